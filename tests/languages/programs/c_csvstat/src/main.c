#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvstat.h"

static char *read_all(FILE *in) {
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    size_t n;
    while (text && (n = fread(text + size, 1, capacity - size - 1, in)) > 0) {
        size += n;
        if (capacity - size < 2) {
            capacity *= 2;
            text = realloc(text, capacity);
        }
    }
    if (text) {
        text[size] = '\0';
    }
    return text;
}

int main(void) {
    char *text = read_all(stdin);
    if (!text) {
        fputs("csvstat: out of memory\n", stderr);
        return 2;
    }
    const char *cursor = text;
    record_t record;
    if (!csv_read_record(&cursor, &record)) {
        fputs("csvstat: empty input (want a header line)\n", stderr);
        return 1;
    }
    static column_t columns[MAX_COLUMNS];
    int count = record.count;
    for (int i = 0; i < count; i++) {
        column_init(&columns[i], record.fields[i]);
    }
    long rows = 0;
    while (csv_read_record(&cursor, &record)) {
        if (record.count == 1 && record.fields[0][0] == '\0') {
            continue;
        }
        rows++;
        for (int i = 0; i < count && i < record.count; i++) {
            column_add(&columns[i], record.fields[i]);
        }
    }
    report_print(columns, count, rows);
    for (int i = 0; i < count; i++) {
        column_free(&columns[i]);
    }
    free(text);
    return 0;
}
