// The byte layout shared with wasmforgehttp.go. Every integer is a little-endian u32 and
// every string is its length then its bytes:
//   request:  method scheme authority path-with-query count (name value)* body
//   response: status count (name value)* body        (status 0: body is the error)
#ifndef WASMFORGE_GO_HTTP_CODEC_H
#define WASMFORGE_GO_HTTP_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} codec_writer_t;

typedef struct {
    const uint8_t *ptr;
    size_t len;
    bool failed;
} codec_reader_t;

static void codec_reserve(codec_writer_t *w, size_t more) {
    if (w->len + more <= w->cap) return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more) cap *= 2;
    uint8_t *grown = realloc(w->ptr, cap);
    if (grown == NULL) abort();  // out of the handler's memory limit: the host answers 5xx
    w->ptr = grown;
    w->cap = cap;
}

static void codec_put_u32(codec_writer_t *w, uint32_t value) {
    codec_reserve(w, 4);
    for (int i = 0; i < 4; i++) w->ptr[w->len++] = (uint8_t)(value >> (8 * i));
}

static void codec_put_bytes(codec_writer_t *w, const void *data, size_t len) {
    codec_put_u32(w, (uint32_t)len);
    codec_reserve(w, len);
    if (len) memcpy(w->ptr + w->len, data, len);
    w->len += len;
}

static void codec_put_str(codec_writer_t *w, const char *text) {
    codec_put_bytes(w, text, strlen(text));
}

static uint32_t codec_get_u32(codec_reader_t *r) {
    if (r->len < 4) {
        r->failed = true;
        return 0;
    }
    uint32_t value = (uint32_t)r->ptr[0] | (uint32_t)r->ptr[1] << 8 |
                     (uint32_t)r->ptr[2] << 16 | (uint32_t)r->ptr[3] << 24;
    r->ptr += 4;
    r->len -= 4;
    return value;
}

// Points into the reader's buffer; `len` receives the length.
static const uint8_t *codec_get_bytes(codec_reader_t *r, size_t *len) {
    uint32_t n = codec_get_u32(r);
    if (r->failed || r->len < n) {
        r->failed = true;
        *len = 0;
        return NULL;
    }
    const uint8_t *data = r->ptr;
    r->ptr += n;
    r->len -= n;
    *len = n;
    return data;
}

#endif
