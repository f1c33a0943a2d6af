// The executor shim: what hyperlight-sandbox's wasm backend calls. `run(code)` hands the
// JSON request to the state component, then runs the user's command (wasi:cli/run).
// The guest's stdout and stderr go to WASI stdio as they are written, not into the result.

#include "cabi_alloc.h"

#define WF_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

WF_IMPORT("wasmforge:executor/request@0.1.0", "set")
void request_set(const char *json, size_t len, uint32_t *result);

WF_IMPORT("wasi:cli/run@" WF_WASI, "run")
int32_t user_run(void);

// execution-result { stdout: string, stderr: string, exit-code: s32 }
static uint32_t result[5];
static uint32_t set_result[3];

// Exit codes the shim itself reports (the user's command exits 0 or 1: WASI 0.2's
// wasi:cli/run carries only success or failure).
enum { EXIT_BAD_REQUEST = 125 };

WF_EXPORT("hyperlight:sandbox/executor#run")
uint32_t *run(const char *code, size_t len) {
    for (int i = 0; i < 5; i++) result[i] = 0;
    // An empty request only loads the guest: the backend snapshots the VM after it.
    if (len == 0) return result;
    request_set(code, len, set_result);
    if ((set_result[0] & 0xFF) != 0) {
        result[2] = set_result[1];  // the state component's message, as stderr
        result[3] = set_result[2];
        result[4] = EXIT_BAD_REQUEST;
        return result;
    }
    result[4] = user_run() == 0 ? 0 : 1;
    return result;
}
