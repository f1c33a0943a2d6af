/* The runtime tests' guest: one command, many behaviours, chosen by argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *volatile keep[1 << 16];

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "hello";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(mode, "hello")) { printf("hello from c\n"); return 0; }
    if (!strcmp(mode, "exit")) { printf("exiting %s\n", arg); fflush(stdout); exit(atoi(arg)); }
    if (!strcmp(mode, "loop")) { printf("looping\n"); fflush(stdout); volatile unsigned x = 0; for (;;) x++; }
    if (!strcmp(mode, "sleep")) { printf("sleeping\n"); fflush(stdout); sleep(atoi(arg)); printf("woke\n"); return 0; }
    if (!strcmp(mode, "trap")) { printf("trapping\n"); fflush(stdout); __builtin_trap(); }
    if (!strcmp(mode, "bomb")) {
        size_t mib = 0;
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p) { printf("allocation failed after %zu MiB\n", mib); return 3; }
            memset(p, 1, 1 << 20);
            keep[mib % (1 << 16)] = p;
            mib++;
        }
    }
    if (!strcmp(mode, "read")) {
        FILE *f = fopen(arg, "r");
        if (!f) { printf("read denied: %s\n", arg); return 2; }
        char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0;
        printf("read: %s\n", buf); return 0;
    }
    if (!strcmp(mode, "write")) {
        FILE *f = fopen(arg, "w");
        if (!f) { printf("write denied: %s\n", arg); return 2; }
        fputs("written by the guest", f); fclose(f);
        printf("wrote: %s\n", arg); return 0;
    }
    if (!strcmp(mode, "env")) {
        const char *v = getenv(arg);
        printf("env %s=%s\n", arg, v ? v : "(unset)"); return 0;
    }
    if (!strcmp(mode, "args")) {
        for (int i = 0; i < argc; i++) printf("arg %d %s\n", i, argv[i]);
        return 0;
    }
    printf("unknown mode %s\n", mode);
    return 64;
}
