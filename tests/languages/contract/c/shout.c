#include <ctype.h>

#include "shout.h"

static char buffer[64];

const char *shout(const char *text) {
    int i = 0;
    for (; text[i] && i < 62; i++) buffer[i] = (char)toupper((unsigned char)text[i]);
    buffer[i] = '!';
    buffer[i + 1] = 0;
    return buffer;
}
