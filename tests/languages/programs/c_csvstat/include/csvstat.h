/* csvstat: per-column statistics of a CSV table read on stdin. */
#ifndef CSVSTAT_H
#define CSVSTAT_H

#include <stddef.h>

#ifndef MAX_COLUMNS
#error "MAX_COLUMNS must be defined (wasmforge.toml: [build] defines)"
#endif
#ifndef REPORT_TITLE
#define REPORT_TITLE "csvstat"
#endif
#define MAX_FIELD 256

/* csv.c: one record at a time, RFC 4180 quoting. */
typedef struct {
    char fields[MAX_COLUMNS][MAX_FIELD];
    int count;
} record_t;

int csv_read_record(const char **cursor, record_t *record);

/* table.c: an open-addressing hash set of strings, counting distinct values. */
typedef struct {
    char **slots;
    size_t capacity;
    size_t used;
} strset_t;

void strset_init(strset_t *set);
int strset_add(strset_t *set, const char *value);
void strset_free(strset_t *set);

/* stats.c: running numeric statistics (Welford) plus distinct values. */
typedef struct {
    char name[MAX_FIELD];
    long count;
    long numeric;
    double mean;
    double m2;
    double min;
    double max;
    strset_t distinct;
} column_t;

void column_init(column_t *column, const char *name);
void column_add(column_t *column, const char *value);
double column_stddev(const column_t *column);
void column_free(column_t *column);

/* report.c */
void report_print(const column_t *columns, int count, long rows);

#endif
