#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csvstat.h"

void column_init(column_t *column, const char *name) {
    memset(column, 0, sizeof *column);
    strncpy(column->name, name, MAX_FIELD - 1);
    column->min = INFINITY;
    column->max = -INFINITY;
    strset_init(&column->distinct);
}

static int parse_number(const char *text, double *out) {
    char *end;
    if (*text == '\0') {
        return 0;
    }
    *out = strtod(text, &end);
    return *end == '\0';
}

void column_add(column_t *column, const char *value) {
    double x;
    column->count++;
    strset_add(&column->distinct, value);
    if (!parse_number(value, &x)) {
        return;
    }
    column->numeric++;
    double delta = x - column->mean;
    column->mean += delta / (double)column->numeric;
    column->m2 += delta * (x - column->mean);
    if (x < column->min) {
        column->min = x;
    }
    if (x > column->max) {
        column->max = x;
    }
}

double column_stddev(const column_t *column) {
    return column->numeric > 1 ? sqrt(column->m2 / (double)(column->numeric - 1)) : 0.0;
}

void column_free(column_t *column) {
    strset_free(&column->distinct);
}
