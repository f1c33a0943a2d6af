// The two C bridges between wasi:http and a Go handler (go-http.wit), compiled once each:
// with -DBRIDGE_IN it exports wasi:http/incoming-handler and calls the Go module's `handle`;
// with -DBRIDGE_OUT it exports `send` to the Go module and makes the request through
// wasi:http/outgoing-handler. Both carry requests and responses in codec.h's layout.
#ifdef BRIDGE_IN
#include "bridge_in.h"
typedef bridge_in_string_t bridge_string_t;
typedef bridge_in_list_u8_t bridge_bytes_t;
#define bridge_bytes_free bridge_in_list_u8_free
#define bridge_string_free bridge_in_string_free
#else
#include "bridge_out.h"
typedef bridge_out_string_t bridge_string_t;
typedef bridge_out_list_u8_t bridge_bytes_t;
#define bridge_bytes_free bridge_out_list_u8_free
#define bridge_string_free bridge_out_string_free
#endif

#include <stdio.h>

#include "codec.h"

// wasi:io's blocking write takes at most 4096 bytes a call.
#define WRITE_CHUNK 4096
#define READ_CHUNK 65536

static const char *const METHODS[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                      "CONNECT", "OPTIONS", "TRACE", "PATCH"};

static void put_string(codec_writer_t *w, bridge_string_t *text) {
    codec_put_bytes(w, text->ptr, text->len);
}

static void put_method(codec_writer_t *w, wasi_http_types_method_t *method) {
    if (method->tag == WASI_HTTP_TYPES_METHOD_OTHER) {
        put_string(w, &method->val.other);
        bridge_string_free(&method->val.other);
    } else {
        codec_put_str(w, METHODS[method->tag]);
    }
}

static void parse_method(const uint8_t *name, size_t len, wasi_http_types_method_t *method) {
    for (uint8_t tag = 0; tag < sizeof METHODS / sizeof *METHODS; tag++) {
        if (strlen(METHODS[tag]) == len && memcmp(METHODS[tag], name, len) == 0) {
            method->tag = tag;
            return;
        }
    }
    method->tag = WASI_HTTP_TYPES_METHOD_OTHER;
    method->val.other.ptr = (uint8_t *)name;
    method->val.other.len = len;
}

// Takes ownership of `fields`.
static void put_fields(codec_writer_t *w, wasi_http_types_own_fields_t fields) {
    wasi_http_types_list_tuple2_field_name_field_value_t entries;
    wasi_http_types_method_fields_entries(wasi_http_types_borrow_fields(fields), &entries);
    codec_put_u32(w, (uint32_t)entries.len);
    for (size_t i = 0; i < entries.len; i++) {
        codec_put_bytes(w, entries.ptr[i].f0.ptr, entries.ptr[i].f0.len);
        codec_put_bytes(w, entries.ptr[i].f1.ptr, entries.ptr[i].f1.len);
    }
    wasi_http_types_list_tuple2_field_name_field_value_free(&entries);
    wasi_http_types_fields_drop_own(fields);
}

// Headers wasi:http forbids a guest to set (connection, host, ...) are left out.
static wasi_http_types_own_fields_t get_fields(codec_reader_t *r) {
    wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
    uint32_t count = codec_get_u32(r);
    for (uint32_t i = 0; i < count && !r->failed; i++) {
        wasi_http_types_field_name_t name;
        wasi_http_types_field_value_t value;
        name.ptr = (uint8_t *)codec_get_bytes(r, &name.len);
        value.ptr = (uint8_t *)codec_get_bytes(r, &value.len);
        wasi_http_types_header_error_t refused;
        wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(fields), &name,
                                             &value, &refused);
    }
    return fields;
}

// Reads an incoming body to its end, then finishes it (takes ownership of `body`).
static void put_body(codec_writer_t *w, wasi_http_types_own_incoming_body_t body) {
    size_t length_at = w->len;
    codec_put_u32(w, 0);
    wasi_http_types_own_input_stream_t stream;
    if (wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                    &stream)) {
        for (;;) {
            bridge_bytes_t chunk;
            wasi_io_streams_stream_error_t ended;
            if (!wasi_io_streams_method_input_stream_blocking_read(
                    wasi_io_streams_borrow_input_stream(stream), READ_CHUNK, &chunk, &ended)) {
                wasi_io_streams_stream_error_free(&ended);
                break;
            }
            codec_reserve(w, chunk.len);
            memcpy(w->ptr + w->len, chunk.ptr, chunk.len);
            w->len += chunk.len;
            bridge_bytes_free(&chunk);
        }
        wasi_io_streams_input_stream_drop_own(stream);
    }
    uint32_t length = (uint32_t)(w->len - length_at - 4);
    for (int i = 0; i < 4; i++) w->ptr[length_at + i] = (uint8_t)(length >> (8 * i));
    wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
}

// Writes `data` into an outgoing body and finishes it (takes ownership of `body`).
static void write_body(wasi_http_types_own_outgoing_body_t body, const uint8_t *data,
                       size_t len) {
    wasi_http_types_own_output_stream_t stream;
    if (wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                   &stream)) {
        for (size_t at = 0; at < len;) {
            size_t n = len - at < WRITE_CHUNK ? len - at : WRITE_CHUNK;
            bridge_bytes_t chunk = {.ptr = (uint8_t *)data + at, .len = n};
            wasi_io_streams_stream_error_t failed;
            if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
                    wasi_io_streams_borrow_output_stream(stream), &chunk, &failed)) {
                wasi_io_streams_stream_error_free(&failed);
                break;
            }
            at += n;
        }
        wasi_io_streams_output_stream_drop_own(stream);
    }
    wasi_http_types_error_code_t failed;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &failed)) {
        wasi_http_types_error_code_free(&failed);
    }
}

#ifdef BRIDGE_IN

static void put_request(codec_writer_t *w, wasi_http_types_own_incoming_request_t request) {
    wasi_http_types_borrow_incoming_request_t borrowed =
        wasi_http_types_borrow_incoming_request(request);
    wasi_http_types_method_t method;
    wasi_http_types_method_incoming_request_method(borrowed, &method);
    put_method(w, &method);
    wasi_http_types_scheme_t scheme;
    if (!wasi_http_types_method_incoming_request_scheme(borrowed, &scheme)) {
        codec_put_str(w, "http");
    } else if (scheme.tag == WASI_HTTP_TYPES_SCHEME_OTHER) {
        put_string(w, &scheme.val.other);
        bridge_string_free(&scheme.val.other);
    } else {
        codec_put_str(w, scheme.tag == WASI_HTTP_TYPES_SCHEME_HTTPS ? "https" : "http");
    }
    bridge_string_t text;
    if (wasi_http_types_method_incoming_request_authority(borrowed, &text)) {
        put_string(w, &text);
        bridge_string_free(&text);
    } else {
        codec_put_str(w, "localhost");
    }
    if (wasi_http_types_method_incoming_request_path_with_query(borrowed, &text)) {
        put_string(w, &text);
        bridge_string_free(&text);
    } else {
        codec_put_str(w, "/");
    }
    put_fields(w, wasi_http_types_method_incoming_request_headers(borrowed));
    wasi_http_types_own_incoming_body_t body;
    if (wasi_http_types_method_incoming_request_consume(borrowed, &body)) {
        put_body(w, body);
    } else {
        codec_put_u32(w, 0);
    }
    wasi_http_types_incoming_request_drop_own(request);
}

static void respond(wasi_http_types_own_response_outparam_t out, const uint8_t *answer,
                    size_t len) {
    codec_reader_t r = {.ptr = answer, .len = len};
    uint32_t status = codec_get_u32(&r);
    wasi_http_types_own_fields_t headers = get_fields(&r);
    size_t body_len;
    const uint8_t *body_data = codec_get_bytes(&r, &body_len);
    if (r.failed || status < 100 || status > 999) {
        static const char broken[] = "the Go handler's answer could not be read\n";
        wasi_http_types_fields_drop_own(headers);
        headers = wasi_http_types_constructor_fields();
        status = 500;
        body_data = (const uint8_t *)broken;
        body_len = sizeof broken - 1;
    }
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_method_outgoing_response_set_status_code(
        wasi_http_types_borrow_outgoing_response(response), (uint16_t)status);
    wasi_http_types_own_outgoing_body_t body;
    wasi_http_types_method_outgoing_response_body(
        wasi_http_types_borrow_outgoing_response(response), &body);
    wasi_http_types_result_own_outgoing_response_error_code_t result = {
        .is_err = false, .val = {.ok = response}};
    wasi_http_types_static_response_outparam_set(out, &result);
    write_body(body, body_data, body_len);
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
    codec_writer_t w = {0};
    put_request(&w, request);
    bridge_bytes_t asked = {.ptr = w.ptr, .len = w.len};
    bridge_bytes_t answer;
    wasmforge_go_http_handler_reserve((uint32_t)w.len);
    wasmforge_go_http_handler_handle(&asked, &answer);
    free(w.ptr);
    respond(response_out, answer.ptr, answer.len);
    bridge_bytes_free(&answer);
}

#else  // BRIDGE_OUT

static const char *const ERROR_NAMES[] = {
    [WASI_HTTP_TYPES_ERROR_CODE_DNS_TIMEOUT] = "DNS timeout",
    [WASI_HTTP_TYPES_ERROR_CODE_DNS_ERROR] = "DNS error",
    [WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_NOT_FOUND] = "destination not found",
    [WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_UNAVAILABLE] = "destination unavailable",
    [WASI_HTTP_TYPES_ERROR_CODE_DESTINATION_IP_PROHIBITED] = "destination IP prohibited",
    [WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_REFUSED] = "connection refused",
    [WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TERMINATED] = "connection terminated",
    [WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TIMEOUT] = "connection timeout",
    [WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED] = "HTTP request denied",
    [WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_URI_INVALID] = "HTTP request URI invalid",
    [WASI_HTTP_TYPES_ERROR_CODE_HTTP_RESPONSE_TIMEOUT] = "HTTP response timeout",
    [WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR] = "internal error",
};

// A status of 0 and the error's text (takes ownership of `error`).
static void put_error(codec_writer_t *w, wasi_http_types_error_code_t *error) {
    char text[80];
    const char *name = error->tag < sizeof ERROR_NAMES / sizeof *ERROR_NAMES
                           ? ERROR_NAMES[error->tag] : NULL;
    if (name != NULL) {
        snprintf(text, sizeof text, "wasi:http: %s", name);
    } else {
        snprintf(text, sizeof text, "wasi:http: error-code %u", (unsigned)error->tag);
    }
    wasi_http_types_error_code_free(error);
    w->len = 0;
    codec_put_u32(w, 0);
    codec_put_str(w, text);
}

static bool set_target(wasi_http_types_borrow_outgoing_request_t request, codec_reader_t *r) {
    size_t len;
    const uint8_t *data = codec_get_bytes(r, &len);
    wasi_http_types_method_t method;
    parse_method(data, len, &method);
    bool ok = wasi_http_types_method_outgoing_request_set_method(request, &method);
    data = codec_get_bytes(r, &len);
    wasi_http_types_scheme_t scheme = {.tag = WASI_HTTP_TYPES_SCHEME_HTTP};
    if (len == 5 && memcmp(data, "https", 5) == 0) {
        scheme.tag = WASI_HTTP_TYPES_SCHEME_HTTPS;
    } else if (!(len == 4 && memcmp(data, "http", 4) == 0)) {
        scheme.tag = WASI_HTTP_TYPES_SCHEME_OTHER;
        scheme.val.other = (bridge_string_t){.ptr = (uint8_t *)data, .len = len};
    }
    ok = wasi_http_types_method_outgoing_request_set_scheme(request, &scheme) && ok;
    bridge_string_t text;
    text.ptr = (uint8_t *)codec_get_bytes(r, &text.len);
    ok = wasi_http_types_method_outgoing_request_set_authority(request, &text) && ok;
    text.ptr = (uint8_t *)codec_get_bytes(r, &text.len);
    ok = wasi_http_types_method_outgoing_request_set_path_with_query(request, &text) && ok;
    return ok && !r->failed;
}

// Waits for the response and puts it; takes ownership of `future`.
static void put_response(codec_writer_t *w,
                         wasi_http_types_own_future_incoming_response_t future) {
    wasi_http_types_borrow_future_incoming_response_t borrowed =
        wasi_http_types_borrow_future_incoming_response(future);
    wasi_io_poll_own_pollable_t ready =
        wasi_http_types_method_future_incoming_response_subscribe(borrowed);
    wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
    wasi_io_poll_pollable_drop_own(ready);
    wasi_http_types_result_result_own_incoming_response_error_code_void_t outcome;
    bool got = wasi_http_types_method_future_incoming_response_get(borrowed, &outcome);
    wasi_http_types_future_incoming_response_drop_own(future);
    if (!got || outcome.is_err) {
        wasi_http_types_error_code_t internal = {.tag = WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR};
        put_error(w, &internal);
        return;
    }
    if (outcome.val.ok.is_err) {
        put_error(w, &outcome.val.ok.val.err);
        return;
    }
    wasi_http_types_own_incoming_response_t response = outcome.val.ok.val.ok;
    wasi_http_types_borrow_incoming_response_t view =
        wasi_http_types_borrow_incoming_response(response);
    codec_put_u32(w, wasi_http_types_method_incoming_response_status(view));
    put_fields(w, wasi_http_types_method_incoming_response_headers(view));
    wasi_http_types_own_incoming_body_t body;
    if (wasi_http_types_method_incoming_response_consume(view, &body)) {
        put_body(w, body);
    } else {
        codec_put_u32(w, 0);
    }
    wasi_http_types_incoming_response_drop_own(response);
}

// The answer `send` made, until `receive` hands it over.
static codec_writer_t pending;

uint32_t exports_wasmforge_go_http_outbound_send(bridge_bytes_t *asked) {
    free(pending.ptr);
    pending = (codec_writer_t){0};
    codec_writer_t w = {0};
    codec_reader_t r = {.ptr = asked->ptr, .len = asked->len};
    codec_reader_t target = r;
    for (int field = 0; field < 4; field++) {  // past method, scheme, authority and path
        size_t skipped;
        codec_get_bytes(&r, &skipped);
    }
    wasi_http_types_own_outgoing_request_t request =
        wasi_http_types_constructor_outgoing_request(get_fields(&r));
    size_t body_len;
    const uint8_t *body_data = codec_get_bytes(&r, &body_len);
    if (!set_target(wasi_http_types_borrow_outgoing_request(request), &target) || r.failed) {
        wasi_http_types_outgoing_request_drop_own(request);
        wasi_http_types_error_code_t invalid = {
            .tag = WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_URI_INVALID};
        put_error(&w, &invalid);
    } else {
        wasi_http_types_own_outgoing_body_t body;
        wasi_http_types_method_outgoing_request_body(
            wasi_http_types_borrow_outgoing_request(request), &body);
        wasi_http_outgoing_handler_own_future_incoming_response_t future;
        wasi_http_outgoing_handler_error_code_t refused;
        if (wasi_http_outgoing_handler_handle(request, NULL, &future, &refused)) {
            write_body(body, body_data, body_len);
            put_response(&w, future);
        } else {
            wasi_http_types_outgoing_body_drop_own(body);
            put_error(&w, &refused);
        }
    }
    bridge_bytes_free(asked);
    pending = w;
    return (uint32_t)w.len;
}

void exports_wasmforge_go_http_outbound_receive(bridge_bytes_t *ret) {
    ret->ptr = pending.ptr;  // freed after the copy (wit-bindgen's post-return)
    ret->len = pending.len;
    pending = (codec_writer_t){0};
}

#endif
