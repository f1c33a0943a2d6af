#include <stdio.h>
#include <string.h>

#include "shout.h"

int main(int argc, char **argv) {
    char line[128] = "";
    if (fgets(line, sizeof line, stdin) != NULL) line[strcspn(line, "\n")] = 0;
    printf("stdin: %s\n", line);
    printf("shout: %s\n", shout(argc > 1 ? argv[1] : "none"));
    FILE *f = fopen("/etc/passwd", "r");
    printf("read: %s\n", f == NULL ? "denied" : "allowed");
    return argc > 2 ? 7 : 0;
}
