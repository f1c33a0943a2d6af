// The C handler the serve tests build: a small service with one route per behaviour the
// tests check, on the bindings wit-bindgen's C generator writes for the http world.
// Files and the environment go through wasi-libc; outbound HTTP through
// wasi:http/outgoing-handler. Module state lives in a static.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int requests = 0;

// One chunk of /alloc's hoard: kept reachable so that no allocation is optimised away.
struct chunk {
    struct chunk *next;
    char bytes[1 << 20];
};
static struct chunk *hoard = NULL;

struct answer {
    int status;
    char text[4096];
};

static void say(struct answer *answer, int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    answer->status = status;
    vsnprintf(answer->text, sizeof answer->text, format, args);
    va_end(args);
}

static void trim(char *text) {
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1])) text[--length] = '\0';
    size_t start = strspn(text, " \t\r\n");
    memmove(text, text + start, length - start + 1);
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Copies the percent-decoded value of `name` in the query string into `out`; false when the
// query has no such parameter.
static bool query_param(const char *query, const char *name, char *out, size_t size) {
    size_t name_length = strlen(name);
    for (const char *pair = query; pair && *pair; pair = strchr(pair, '&')) {
        if (*pair == '&') pair++;
        if (strncmp(pair, name, name_length) != 0 || pair[name_length] != '=') continue;
        const char *value = pair + name_length + 1;
        size_t used = 0;
        while (*value && *value != '&' && used + 1 < size) {
            if (*value == '%' && hex_digit(value[1]) >= 0 && hex_digit(value[2]) >= 0) {
                out[used++] = (char)(hex_digit(value[1]) * 16 + hex_digit(value[2]));
                value += 3;
            } else {
                out[used++] = *value == '+' ? ' ' : *value;
                value++;
            }
        }
        out[used] = '\0';
        return true;
    }
    return false;
}

static void read_file(struct answer *answer, const char *path) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        say(answer, 404, "cannot read: %s", strerror(errno));
        return;
    }
    size_t length = fread(answer->text, 1, sizeof answer->text - 1, file);
    fclose(file);
    answer->text[length] = '\0';
    answer->status = 200;
    trim(answer->text);
}

static void write_file(struct answer *answer, const char *path) {
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        say(answer, 403, "cannot write: %s", strerror(errno));
        return;
    }
    fputs("written", file);
    fclose(file);
    say(answer, 200, "written");
}

// Reads the whole body of an upstream response into `out` (at most `size` - 1 bytes).
static void read_body(wasi_http_types_borrow_incoming_response_t response, char *out,
                      size_t size) {
    size_t used = 0;
    out[0] = '\0';
    wasi_http_types_own_incoming_body_t body;
    if (!wasi_http_types_method_incoming_response_consume(response, &body)) return;
    wasi_http_types_own_input_stream_t stream;
    if (wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                    &stream)) {
        http_list_u8_t chunk;
        wasi_io_streams_stream_error_t error;
        while (wasi_io_streams_method_input_stream_blocking_read(
            wasi_io_streams_borrow_input_stream(stream), 65536, &chunk, &error)) {
            size_t take = chunk.len < size - 1 - used ? chunk.len : size - 1 - used;
            memcpy(out + used, chunk.ptr, take);
            used += take;
            http_list_u8_free(&chunk);
        }
        wasi_io_streams_stream_error_free(&error); // `closed` at the end of the body
        wasi_io_streams_input_stream_drop_own(stream); // a child: dropped before its body
    }
    out[used] = '\0';
    wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
}

static wasi_http_types_own_outgoing_request_t get_request(const char *url) {
    const char *authority = strstr(url, "://");
    authority = authority ? authority + 3 : url;
    const char *path = strchr(authority, '/');
    size_t authority_length = path ? (size_t)(path - authority) : strlen(authority);

    wasi_http_types_own_outgoing_request_t request =
        wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
    wasi_http_types_borrow_outgoing_request_t borrowed =
        wasi_http_types_borrow_outgoing_request(request);
    wasi_http_types_scheme_t scheme = {.tag = WASI_HTTP_TYPES_SCHEME_HTTP};
    wasi_http_types_method_outgoing_request_set_scheme(borrowed, &scheme);
    http_string_t text;
    http_string_dup_n(&text, authority, authority_length);
    wasi_http_types_method_outgoing_request_set_authority(borrowed, &text);
    http_string_free(&text);
    http_string_dup(&text, path ? path : "/");
    wasi_http_types_method_outgoing_request_set_path_with_query(borrowed, &text);
    http_string_free(&text);
    return request; // a GET with no body: the body resource is never taken
}

static void fetch(struct answer *answer, const char *url) {
    wasi_http_outgoing_handler_own_future_incoming_response_t future;
    wasi_http_types_error_code_t error;
    if (!wasi_http_outgoing_handler_handle(get_request(url), NULL, &future, &error)) {
        if (error.tag == WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED)
            say(answer, 502, "denied: the host refused a request to %s", url);
        else
            say(answer, 502, "no request: error code %d", error.tag);
        wasi_http_types_error_code_free(&error);
        return;
    }
    wasi_http_types_borrow_future_incoming_response_t pending =
        wasi_http_types_borrow_future_incoming_response(future);
    wasi_io_poll_own_pollable_t ready =
        wasi_http_types_method_future_incoming_response_subscribe(pending);
    wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
    wasi_io_poll_pollable_drop_own(ready);

    wasi_http_types_result_result_own_incoming_response_error_code_void_t outcome;
    if (!wasi_http_types_method_future_incoming_response_get(pending, &outcome) ||
        outcome.is_err || outcome.val.ok.is_err) {
        say(answer, 502, "no response from %s", url);
        wasi_http_types_result_result_own_incoming_response_error_code_void_free(&outcome);
        wasi_http_types_future_incoming_response_drop_own(future);
        return;
    }
    wasi_http_types_own_incoming_response_t response = outcome.val.ok.val.ok;
    wasi_http_types_borrow_incoming_response_t borrowed =
        wasi_http_types_borrow_incoming_response(response);
    char body[2048];
    int status = wasi_http_types_method_incoming_response_status(borrowed);
    read_body(borrowed, body, sizeof body);
    wasi_http_types_incoming_response_drop_own(response);
    wasi_http_types_future_incoming_response_drop_own(future);
    trim(body);
    say(answer, 200, "upstream %d: %s", status, body);
}

static void spin(void) {
    volatile unsigned long turns = 0;
    for (;;) turns++;
}

static void allocate_forever(void) {
    for (;;) {
        struct chunk *chunk = malloc(sizeof *chunk);
        if (chunk == NULL) abort(); // out of memory: the host answers 5xx
        memset(chunk->bytes, requests, sizeof chunk->bytes);
        chunk->next = hoard;
        hoard = chunk;
    }
}

static void route(struct answer *answer, const char *path, const char *query) {
    static char value[1024];
    if (strcmp(path, "/state") == 0) {
        say(answer, 200, "%d", requests);
    } else if (strcmp(path, "/env") == 0) {
        const char *found = query_param(query, "name", value, sizeof value) ? getenv(value)
                                                                             : NULL;
        say(answer, 200, "%s", found ? found : "(unset)");
    } else if (strcmp(path, "/file") == 0 && query_param(query, "path", value, sizeof value)) {
        read_file(answer, value);
    } else if (strcmp(path, "/write") == 0 && query_param(query, "path", value, sizeof value)) {
        write_file(answer, value);
    } else if (strcmp(path, "/fetch") == 0 && query_param(query, "url", value, sizeof value)) {
        fetch(answer, value);
    } else if (strcmp(path, "/spin") == 0) {
        spin();
    } else if (strcmp(path, "/alloc") == 0) {
        allocate_forever();
    } else {
        say(answer, 200, "Hello from C at %s", path);
    }
}

static void respond(wasi_http_types_own_response_outparam_t out, struct answer *answer) {
    wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
    wasi_http_types_field_name_t name;
    http_string_set(&name, "content-type");
    wasi_http_types_field_value_t value = {.ptr = (uint8_t *)"text/plain", .len = 10};
    wasi_http_types_header_error_t header_error;
    wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(headers), &name, &value,
                                         &header_error);
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_method_outgoing_response_set_status_code(
        wasi_http_types_borrow_outgoing_response(response), (uint16_t)answer->status);
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_method_outgoing_response_body(
        wasi_http_types_borrow_outgoing_response(response), &body);
    wasi_http_types_result_own_outgoing_response_error_code_t result = {
        .is_err = false, .val = {.ok = response}};
    wasi_http_types_static_response_outparam_set(out, &result);

    strncat(answer->text, "\n", sizeof answer->text - strlen(answer->text) - 1);
    wasi_http_types_own_output_stream_t stream;
    wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                               &stream);
    http_list_u8_t contents = {.ptr = (uint8_t *)answer->text, .len = strlen(answer->text)};
    wasi_io_streams_stream_error_t stream_error;
    wasi_io_streams_method_output_stream_blocking_write_and_flush(
        wasi_io_streams_borrow_output_stream(stream), &contents, &stream_error);
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t finish_error;
    wasi_http_types_static_outgoing_body_finish(body, NULL, &finish_error);
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
    requests += 1;
    static char target[2048];
    strcpy(target, "/");
    http_string_t path_with_query;
    if (wasi_http_types_method_incoming_request_path_with_query(
            wasi_http_types_borrow_incoming_request(request), &path_with_query)) {
        size_t length = path_with_query.len < sizeof target - 1 ? path_with_query.len
                                                                 : sizeof target - 1;
        memcpy(target, path_with_query.ptr, length);
        target[length] = '\0';
        http_string_free(&path_with_query);
    }
    wasi_http_types_incoming_request_drop_own(request);

    char *query = strchr(target, '?');
    if (query != NULL) *query++ = '\0';
    static struct answer answer;
    route(&answer, target, query ? query : "");
    respond(response_out, &answer);
    if (strcmp(target, "/crash-after-answer") == 0) abort(); // the client has its answer
}
