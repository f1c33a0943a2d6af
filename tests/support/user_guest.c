// The user's command for the executor tests: prints its arguments and $GREETING, calls a
// host function when asked (`tool NAME ARGS_JSON`), fails when asked (`fail`), and writes
// N bytes in small pieces to stdout and stderr when asked (`big N`). For the VM checks it
// also exits with a status (`exit N`), spins (`loop`), allocates until refused (`bomb`),
// traps (`trap`), reads or writes a file (`read PATH`, `write PATH`) and counts its own
// calls (`count`: 1 every call when each call starts from a clean snapshot).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int calls;
static char *volatile kept[1 << 16];

static int vm_mode(const char *mode, const char *arg) {
    if (strcmp(mode, "exit") == 0) { fflush(stdout); exit(atoi(arg)); }
    if (strcmp(mode, "loop") == 0) { fflush(stdout); volatile unsigned x = 0; for (;;) x++; }
    if (strcmp(mode, "trap") == 0) { fflush(stdout); __builtin_trap(); }
    if (strcmp(mode, "count") == 0) { printf("count %d\n", ++calls); return 0; }
    if (strcmp(mode, "bomb") == 0) {
        for (size_t mib = 0;; mib++) {
            char *p = malloc(1 << 20);
            if (!p) { printf("allocation failed after %zu MiB\n", mib); return 5; }
            memset(p, 1, 1 << 20);
            kept[mib % (1 << 16)] = p;
        }
    }
    if (strcmp(mode, "read") == 0) {
        FILE *f = fopen(arg, "r");
        if (!f) { printf("read denied: %s\n", arg); return 2; }
        char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f);
        printf("read: %s\n", buf); return 0;
    }
    if (strcmp(mode, "write") == 0) {
        FILE *f = fopen(arg, "w");
        if (!f) { printf("write denied: %s\n", arg); return 2; }
        fputs("written in the VM", f); fclose(f);
        printf("wrote: %s\n", arg); return 0;
    }
    return -1;
}

typedef struct { uint8_t is_err; uint32_t ptr; uint32_t len; } dispatch_result_t;

__attribute__((import_module("hyperlight:sandbox/tools"), import_name("dispatch")))
void dispatch(const char *name, size_t name_len, const char *args, size_t args_len,
              dispatch_result_t *result);

// The canonical ABI allocates the host's reply in our memory through this export.
__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    (void)old_size; (void)align;
    return realloc(old, new_size);
}

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    printf("hello from the guest:");
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    printf("\nGREETING=%s\n", greeting ? greeting : "(unset)");
    if (argc >= 4 && strcmp(argv[1], "tool") == 0) {
        dispatch_result_t r;
        dispatch(argv[2], strlen(argv[2]), argv[3], strlen(argv[3]), &r);
        printf("tool %s: %s %.*s\n", argv[2], r.is_err ? "err" : "ok", (int)r.len,
               (const char *)(uintptr_t)r.ptr);
        fflush(stdout);
        return r.is_err ? 4 : 0;
    }
    if (argc >= 3 && strcmp(argv[1], "big") == 0) {
        long n = atol(argv[2]);
        for (long i = 0; i < n; i++) {
            putchar('a' + i % 26);
            if (i % 1000 == 999) fprintf(stderr, "%ld\n", i + 1);
        }
        putchar('\n');
    }
    if (argc >= 2) {
        int code = vm_mode(argv[1], argc >= 3 ? argv[2] : "");
        if (code >= 0) { fflush(stdout); return code; }
    }
    fflush(stdout);
    if (argc >= 2 && strcmp(argv[1], "fail") == 0) {
        fprintf(stderr, "failing on request\n");
        return 3;
    }
    return 0;
}
