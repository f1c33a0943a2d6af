/* Calls WASI 0.2 sockets and HTTP directly (zig's wasi libc has no preview2 network). */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define IMPORT(m, n) __attribute__((import_module(m "@VERSION"), import_name(n)))
typedef struct { uint8_t is_err; uint8_t pad[3]; uint32_t value; } result_handle;
IMPORT("wasi:sockets/tcp-create-socket", "create-tcp-socket")
extern void create_tcp_socket(int32_t family, result_handle *ret);
IMPORT("wasi:sockets/instance-network", "instance-network")
extern int32_t instance_network(void);
IMPORT("wasi:sockets/ip-name-lookup", "resolve-addresses")
extern void resolve_addresses(int32_t network, const char *name, size_t len, result_handle *ret);
IMPORT("wasi:http/types", "[constructor]fields")
extern int32_t http_new_fields(void);

/* error-code holds strings, so the canonical ABI needs an allocator */
__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
    (void)old_size; (void)align;
    return realloc(ptr, new_size);
}

int main(int argc, char **argv) {
    result_handle r;
    memset(&r, 0, sizeof r);
    if (argc > 1 && !strcmp(argv[1], "http")) {
        printf("fetching\n");
        fflush(stdout);
        int32_t fields = http_new_fields();  /* the first step of any outgoing request */
        printf("fetched (headers %d)\n", fields);
        return 0;
    }
    create_tcp_socket(0, &r);
    printf("tcp socket: %s\n", r.is_err ? "denied" : "ok");
    const char *host = "example.com";
    resolve_addresses(instance_network(), host, strlen(host), &r);
    printf("resolve: %s\n", r.is_err ? "denied" : "ok");
    return 0;
}
