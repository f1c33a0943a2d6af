#include <string.h>

#include "csvstat.h"

/* Copies one field starting at *cursor; returns the character that ended it. */
static char read_field(const char **cursor, char *out) {
    const char *p = *cursor;
    size_t n = 0;
    int quoted = (*p == '"');
    if (quoted) {
        p++;
    }
    for (;;) {
        char c = *p;
        if (c == '\0') {
            break;
        }
        if (quoted) {
            if (c == '"' && p[1] == '"') {
                c = '"';
                p++;
            } else if (c == '"') {
                quoted = 0;
                p++;
                continue;
            }
        } else if (c == ',' || c == '\n' || c == '\r') {
            break;
        }
        if (n + 1 < MAX_FIELD) {
            out[n++] = c;
        }
        p++;
    }
    out[n] = '\0';
    *cursor = p;
    return *p;
}

int csv_read_record(const char **cursor, record_t *record) {
    record->count = 0;
    if (**cursor == '\0') {
        return 0;
    }
    for (;;) {
        char scratch[MAX_FIELD];
        char *target = record->count < MAX_COLUMNS ? record->fields[record->count] : scratch;
        char end = read_field(cursor, target);
        if (record->count < MAX_COLUMNS) {
            record->count++;
        }
        if (end == ',') {
            (*cursor)++;
            continue;
        }
        if (end == '\r') {
            (*cursor)++;
        }
        if (**cursor == '\n') {
            (*cursor)++;
        }
        return 1;
    }
}
