/* wasmforge: fixed randomness and clocks for a pre-initialiser's process (Linux, glibc).
 *
 * A pre-initialiser (componentize-js's wizer) runs the guest's start-up code under
 * wasmtime's WASI and snapshots the guest's memory. The guest draws random bytes (hash-table
 * keys, PRNG seeds) and reads the monotonic clock (GC budgets, timers) while it starts, and
 * those values end up in the snapshot. Loaded with LD_PRELOAD, this library answers the
 * host's requests for them deterministically:
 *
 * - getrandom, getentropy and syscall(SYS_getrandom): bytes derived from
 *   $WASMFORGE_REPRO_SEED (hex) and their offset in the request only, so that every request
 *   of a given size gets the same bytes whichever thread asks and in whatever order;
 * - clock_gettime: the real-time clocks read a fixed instant; the monotonic clocks count
 *   1 microsecond per call from a fixed start, so they still advance, and count per thread:
 *   the guest runs on the main thread, whose calls do not depend on how the other threads
 *   (parallel compilation) were scheduled.
 *
 * It removes LD_PRELOAD and WASMFORGE_REPRO_SEED from the environment as it loads: the
 * guest inherits the environment and would keep them in its snapshot.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

static uint64_t wasmforge_seed;
static __thread uint64_t wasmforge_ticks;

__attribute__((constructor)) static void wasmforge_repro_load(void) {
    const char *seed = getenv("WASMFORGE_REPRO_SEED");
    wasmforge_seed = seed ? strtoull(seed, NULL, 16) : 0;
    unsetenv("WASMFORGE_REPRO_SEED");
    unsetenv("LD_PRELOAD");
}

/* splitmix64's output function: spreads a counter into well-mixed 64-bit words. */
static uint64_t wasmforge_mix(uint64_t value) {
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
    return value ^ (value >> 31);
}

static void wasmforge_fill(void *buffer, size_t length) {
    unsigned char *out = buffer;
    for (uint64_t block = 1; length > 0; block++) {
        uint64_t word = wasmforge_mix(wasmforge_seed + block * 0x9E3779B97F4A7C15ull);
        size_t count = length < sizeof word ? length : sizeof word;
        memcpy(out, &word, count);
        out += count;
        length -= count;
    }
}

ssize_t getrandom(void *buffer, size_t length, unsigned int flags) {
    (void)flags;
    wasmforge_fill(buffer, length);
    return (ssize_t)length;
}

int getentropy(void *buffer, size_t length) {
    if (length > 256) {
        errno = EIO;
        return -1;
    }
    wasmforge_fill(buffer, length);
    return 0;
}

long syscall(long number, ...) {
    va_list list;
    long args[6];
    va_start(list, number);
    for (int i = 0; i < 6; i++) {
        args[i] = va_arg(list, long);
    }
    va_end(list);
    if (number == SYS_getrandom) {
        wasmforge_fill((void *)args[0], (size_t)args[1]);
        return args[1];
    }
    static long (*next)(long, ...);
    if (!next) {
        next = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    }
    return next(number, args[0], args[1], args[2], args[3], args[4], args[5]);
}

int clock_gettime(clockid_t clock, struct timespec *time) {
    switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_TAI:
        time->tv_sec = 0;
        time->tv_nsec = 0;
        return 0;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME: {
        uint64_t micros = ++wasmforge_ticks;
        time->tv_sec = (time_t)(1000 + micros / 1000000);
        time->tv_nsec = (long)(micros % 1000000) * 1000;
        return 0;
    }
    default: {
        static int (*next)(clockid_t, struct timespec *);
        if (!next) {
            next = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
        }
        return next(clock, time);
    }
    }
}
