// The canonical ABI allocator both executor components export: a bump allocator. Each
// component lives for one VM (snapshot-restored before every call) and a run's request
// is small, so nothing is ever freed.
#ifndef WASMFORGE_CABI_ALLOC_H
#define WASMFORGE_CABI_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define WF_EXPORT(name) __attribute__((export_name(name)))

extern unsigned char __heap_base;
static uintptr_t heap_top = (uintptr_t)&__heap_base;

WF_EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    uintptr_t at = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
    uintptr_t end = at + new_size;
    size_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have) {
        size_t pages = (end - have + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) __builtin_trap();
    }
    heap_top = end;
    unsigned char *dst = (unsigned char *)at;
    const unsigned char *src = old;
    for (size_t i = 0; old && i < old_size && i < new_size; i++) dst[i] = src[i];
    return dst;
}

#endif
