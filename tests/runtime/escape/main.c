/* A hostile guest for wasmforge's escape tests: each command tries one way out of its
 * mounts and prints what happened, with the errno text when the sandbox refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

static int report(const char *what, int failed) {
    if (failed) {
        printf("%s: errno %s\n", what, strerror(errno));
        return 2;
    }
    printf("%s: ok\n", what);
    return 0;
}

static int cat(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return report("read", 1);
    char buffer[256];
    size_t n = fread(buffer, 1, sizeof buffer - 1, f);
    buffer[n] = 0;
    fclose(f);
    printf("read: %s\n", buffer);
    return 0;
}

static int list(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) return report("list", 1);
    struct dirent *entry;
    while ((entry = readdir(dir))) printf("entry: %s\n", entry->d_name);
    closedir(dir);
    return 0;
}

static int write_file(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return report("write", 1);
    fputs("written by the guest\n", f);
    fclose(f);
    return report("write", 0);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "symlink"))
        return report("symlink", symlink(argv[2], argv[3]) != 0);
    if (argc == 3 && !strcmp(argv[1], "read")) return cat(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "list")) return list(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "write")) return write_file(argv[2]);
    fprintf(stderr, "usage: symlink TARGET LINK | read PATH | list PATH | write PATH\n");
    return 64;
}
