/* Grows the heap past 64 MiB in 1 MiB blocks, touches every page, and checks it back. */
#include <stdio.h>
#include <stdlib.h>

#define BLOCK (1024 * 1024)

int main(int argc, char **argv) {
    int blocks = argc > 1 ? atoi(argv[1]) : 96;
    unsigned char **kept = malloc(sizeof *kept * (size_t)blocks);
    unsigned long sum = 0;
    for (int i = 0; i < blocks; i++) {
        kept[i] = malloc(BLOCK);
        if (!kept[i]) {
            printf("out of memory after %d MiB\n", i);
            return 1;
        }
        for (int j = 0; j < BLOCK; j += 4096) {
            kept[i][j] = (unsigned char)(i + j / 4096);
        }
    }
    for (int i = 0; i < blocks; i++) {
        for (int j = 0; j < BLOCK; j += 4096) {
            sum += kept[i][j];
        }
    }
    printf("heap: %d MiB live, checksum %lu\n", blocks, sum);
    return 0;
}
