// The executor's state component: keeps the request of the current run and serves its
// arguments and environment to the user's component through wasi:cli/environment, and
// its stdout/stderr as streams into /output/.wasmforge-stdout and -stderr (the backend
// reads them after the call: hyperlight-sandbox's WASI stdout keeps nothing).
// Freestanding C (no libc): the canonical ABI glue for three small functions is written
// out here instead of generated, so building it needs only zig and wasm-tools.

#include "cabi_alloc.h"

typedef struct { const char *ptr; size_t len; } str_t;
typedef struct { str_t key, value; } pair_t;

static str_t *args;
static size_t args_len;
static pair_t *env;
static size_t env_len;

// ---- a strict JSON reader for the one shape wasmforge sends ----

typedef struct { const char *at, *end; const char *error; } reader_t;

static void fail(reader_t *r, const char *why) { if (!r->error) r->error = why; }

static void skip_ws(reader_t *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\n' || *r->at == '\t' || *r->at == '\r'))
        r->at++;
}

static int eat(reader_t *r, char c) {
    skip_ws(r);
    if (r->at < r->end && *r->at == c) { r->at++; return 1; }
    return 0;
}

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

static int read_hex4(reader_t *r, uint32_t *value) {
    if (r->end - r->at < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex(r->at[i]);
        if (h < 0) return 0;
        v = v << 4 | (uint32_t)h;
    }
    r->at += 4;
    *value = v;
    return 1;
}

static str_t read_string(reader_t *r) {
    str_t s = {0, 0};
    if (!eat(r, '"')) { fail(r, "expected a string"); return s; }
    // Decoded text is never longer than its escaped form.
    char *out = cabi_realloc(0, 0, 1, (size_t)(r->end - r->at));
    size_t n = 0;
    while (r->at < r->end && *r->at != '"') {
        char c = *r->at++;
        if ((unsigned char)c < 0x20) { fail(r, "control character in a string"); return s; }
        if (c != '\\') { out[n++] = c; continue; }
        if (r->at >= r->end) break;
        char e = *r->at++;
        switch (e) {
        case '"': case '\\': case '/': out[n++] = e; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, low;
            if (!read_hex4(r, &cp)) { fail(r, "bad \\u escape"); return s; }
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (r->end - r->at < 6 || r->at[0] != '\\' || r->at[1] != 'u') {
                    fail(r, "unpaired surrogate"); return s;
                }
                r->at += 2;
                if (!read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) {
                    fail(r, "unpaired surrogate"); return s;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                fail(r, "unpaired surrogate"); return s;
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: fail(r, "bad escape"); return s;
        }
    }
    if (!eat(r, '"')) { fail(r, "unterminated string"); return s; }
    s.ptr = out;
    s.len = n;
    return s;
}

// Reads `[ item, ... ]`, calling `item` for each; returns the count.
static size_t read_array(reader_t *r, void (*item)(reader_t *, size_t)) {
    size_t count = 0;
    if (!eat(r, '[')) { fail(r, "expected an array"); return 0; }
    if (eat(r, ']')) return 0;
    do {
        item(r, count++);
        if (r->error) return count;
    } while (eat(r, ','));
    if (!eat(r, ']')) fail(r, "expected ',' or ']'");
    return count;
}

// Arrays are read twice: once to count (into scratch), once into the final table. The
// request is tiny, so simplicity beats a growable vector here.
static int counting;

static void arg_item(reader_t *r, size_t i) {
    str_t s = read_string(r);
    if (!counting) args[i] = s;
}

static void env_item(reader_t *r, size_t i) {
    if (!eat(r, '[')) { fail(r, "expected [name, value]"); return; }
    str_t k = read_string(r);
    if (!eat(r, ',')) { fail(r, "expected [name, value]"); return; }
    str_t v = read_string(r);
    if (!eat(r, ']')) { fail(r, "expected [name, value]"); return; }
    if (!counting) { env[i].key = k; env[i].value = v; }
}

static int key_is(str_t key, const char *name) {
    size_t i = 0;
    for (; name[i]; i++)
        if (i >= key.len || key.ptr[i] != name[i]) return 0;
    return i == key.len;
}

static const char *parse_request(const char *json, size_t len) {
    for (int pass = 0; pass < 2; pass++) {
        reader_t r = {json, json + len, 0};
        counting = pass == 0;
        if (!eat(&r, '{')) return "the request is not a JSON object";
        if (!eat(&r, '}')) {
            do {
                str_t key = read_string(&r);
                if (r.error) return r.error;
                if (!eat(&r, ':')) return "expected ':' in the request";
                if (key_is(key, "args")) {
                    size_t n = read_array(&r, arg_item);
                    if (counting) { args_len = n; args = cabi_realloc(0, 0, 4, n * sizeof(str_t)); }
                } else if (key_is(key, "env")) {
                    size_t n = read_array(&r, env_item);
                    if (counting) { env_len = n; env = cabi_realloc(0, 0, 4, n * sizeof(pair_t)); }
                } else {
                    return "the request has an unknown key";
                }
                if (r.error) return r.error;
            } while (eat(&r, ','));
            if (!eat(&r, '}')) return "expected ',' or '}' in the request";
        }
        skip_ws(&r);
        if (r.at != r.end) return "trailing data after the request";
    }
    return 0;
}

static size_t cstrlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

// result<_, string>: discriminant byte, then the error string (ptr, len).
static uint32_t set_result[3];

WF_EXPORT("wasmforge:executor/request@0.1.0#set")
uint32_t *request_set(const char *json, size_t len) {
    args = 0; args_len = 0; env = 0; env_len = 0;
    const char *error = parse_request(json, len);
    if (error) {
        args_len = env_len = 0;
        set_result[0] = 1;
        set_result[1] = (uint32_t)(uintptr_t)error;
        set_result[2] = (uint32_t)cstrlen(error);
    } else {
        set_result[0] = 0;
    }
    return set_result;
}

static uint32_t list_result[2];

WF_EXPORT("wasi:cli/environment@" WF_WASI "#get-environment")
uint32_t *get_environment(void) {
    list_result[0] = (uint32_t)(uintptr_t)env;
    list_result[1] = (uint32_t)env_len;
    return list_result;
}

WF_EXPORT("wasi:cli/environment@" WF_WASI "#get-arguments")
uint32_t *get_arguments(void) {
    list_result[0] = (uint32_t)(uintptr_t)args;
    list_result[1] = (uint32_t)args_len;
    return list_result;
}

static uint32_t cwd_result[3];

WF_EXPORT("wasi:cli/environment@" WF_WASI "#initial-cwd")
uint32_t *initial_cwd(void) {
    cwd_result[0] = 0;  // none
    return cwd_result;
}

// ---- stdout / stderr into files of the /output preopen ----

#define WF_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define FS_TYPES "wasi:filesystem/types@" WF_WASI

WF_IMPORT("wasi:filesystem/preopens@" WF_WASI, "get-directories")
void fs_get_directories(uint32_t *ret);  // list<tuple<own<descriptor>, string>>

WF_IMPORT(FS_TYPES, "[method]descriptor.open-at")
void fs_open_at(int32_t self, int32_t path_flags, const char *path, size_t path_len,
                int32_t open_flags, int32_t descriptor_flags, uint32_t *ret);

WF_IMPORT(FS_TYPES, "[method]descriptor.write-via-stream")
void fs_write_via_stream(int32_t self, uint64_t offset, uint32_t *ret);

WF_IMPORT(FS_TYPES, "[method]descriptor.append-via-stream")
void fs_append_via_stream(int32_t self, uint32_t *ret);

WF_IMPORT(FS_TYPES, "[method]descriptor.write")
void fs_write(int32_t self, const char *data, size_t len, uint64_t offset, uint64_t *ret);

WF_IMPORT(FS_TYPES, "[resource-drop]descriptor")
void fs_drop_descriptor(int32_t handle);

enum { OPEN_CREATE = 1, OPEN_TRUNCATE = 8, DESCRIPTOR_WRITE = 2 };

static int32_t output_dir = -1;
static int opened[2];

static int32_t find_output_dir(void) {
    if (output_dir >= 0) return output_dir;
    uint32_t list[2];
    fs_get_directories(list);
    const uint32_t *entry = (const uint32_t *)(uintptr_t)list[0];
    for (uint32_t i = 0; i < list[1]; i++, entry += 3) {
        str_t path = {(const char *)(uintptr_t)entry[1], entry[2]};
        if (output_dir < 0 && key_is(path, "/output")) output_dir = (int32_t)entry[0];
        else fs_drop_descriptor((int32_t)entry[0]);
    }
    return output_dir;
}

// A new output-stream into /output/<name>: truncated on the first call of a run, appended
// to after that (the adapter may ask more than once).
static int32_t capture_stream(int which, const char *name, size_t name_len) {
    int32_t dir = find_output_dir();
    if (dir < 0) __builtin_trap();  // the executor is always run with an /output preopen
    uint32_t ret[3];
    int first = !opened[which];
    fs_open_at(dir, 0, name, name_len, OPEN_CREATE | (first ? OPEN_TRUNCATE : 0),
               DESCRIPTOR_WRITE, ret);
    if ((ret[0] & 0xFF) != 0) __builtin_trap();
    int32_t file = (int32_t)ret[1];
    if (first) fs_write_via_stream(file, 0, ret);
    else fs_append_via_stream(file, ret);
    if ((ret[0] & 0xFF) != 0) __builtin_trap();
    opened[which] = 1;
    // The stream keeps the file open; the descriptor handle itself is not needed.
    fs_drop_descriptor(file);
    return (int32_t)ret[1];
}

WF_EXPORT("wasi:cli/stdout@" WF_WASI "#get-stdout")
int32_t get_stdout(void) {
    return capture_stream(0, ".wasmforge-stdout", 17);
}

WF_EXPORT("wasi:cli/stderr@" WF_WASI "#get-stderr")
int32_t get_stderr(void) {
    return capture_stream(1, ".wasmforge-stderr", 17);
}

// ---- exit: recorded in /output/.wasmforge-exit, then the instance traps ----
// exit() must not return, and a trap is the only way out of a component instance; the
// backend reads the status from the file when the call ends in that trap.

static void record_exit(unsigned code) {
    int32_t dir = find_output_dir();
    if (dir >= 0) {
        uint32_t ret[3];
        fs_open_at(dir, 0, ".wasmforge-exit", 15, OPEN_CREATE | OPEN_TRUNCATE,
                   DESCRIPTOR_WRITE, ret);
        if ((ret[0] & 0xFF) == 0) {
            char text[4];
            size_t n = 0;
            if (code >= 100) text[n++] = (char)('0' + code / 100);
            if (code >= 10) text[n++] = (char)('0' + code / 10 % 10);
            text[n++] = (char)('0' + code % 10);
            uint64_t written[2];
            fs_write((int32_t)ret[1], text, n, 0, written);
        }
    }
    __builtin_trap();
}

WF_EXPORT("wasi:cli/exit@" WF_WASI "#exit")
void cli_exit(int32_t is_err) {
    record_exit(is_err ? 1 : 0);
}

WF_EXPORT("wasi:cli/exit@" WF_WASI "#exit-with-code")
void cli_exit_with_code(int32_t code) {
    record_exit((unsigned)code & 0xFF);
}
