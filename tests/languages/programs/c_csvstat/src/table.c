#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csvstat.h"

#define INITIAL_SLOTS 16

static uint64_t hash_string(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

void strset_init(strset_t *set) {
    set->capacity = INITIAL_SLOTS;
    set->used = 0;
    set->slots = calloc(set->capacity, sizeof(char *));
}

static void strset_grow(strset_t *set) {
    strset_t bigger = {calloc(set->capacity * 2, sizeof(char *)), set->capacity * 2, 0};
    for (size_t i = 0; i < set->capacity; i++) {
        char *value = set->slots[i];
        if (value) {
            size_t j = hash_string(value) & (bigger.capacity - 1);
            while (bigger.slots[j]) {
                j = (j + 1) & (bigger.capacity - 1);
            }
            bigger.slots[j] = value;
            bigger.used++;
        }
    }
    free(set->slots);
    *set = bigger;
}

/* Returns 1 when `value` was new. */
int strset_add(strset_t *set, const char *value) {
    if ((set->used + 1) * 4 > set->capacity * 3) {
        strset_grow(set);
    }
    size_t i = hash_string(value) & (set->capacity - 1);
    while (set->slots[i]) {
        if (strcmp(set->slots[i], value) == 0) {
            return 0;
        }
        i = (i + 1) & (set->capacity - 1);
    }
    set->slots[i] = strdup(value);
    set->used++;
    return 1;
}

void strset_free(strset_t *set) {
    for (size_t i = 0; i < set->capacity; i++) {
        free(set->slots[i]);
    }
    free(set->slots);
    set->slots = NULL;
    set->capacity = set->used = 0;
}
