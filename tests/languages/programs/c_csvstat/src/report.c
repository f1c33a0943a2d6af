#include <stdio.h>

#include "csvstat.h"

void report_print(const column_t *columns, int count, long rows) {
    printf("%s: %ld rows, %d columns\n", REPORT_TITLE, rows, count);
    for (int i = 0; i < count; i++) {
        const column_t *c = &columns[i];
        if (c->numeric == c->count && c->count > 0) {
            printf("%-8s numeric  min=%.2f max=%.2f mean=%.3f sd=%.3f\n", c->name, c->min,
                   c->max, c->mean, column_stddev(c));
        } else {
            printf("%-8s text     distinct=%zu\n", c->name, c->distinct.used);
        }
    }
}
