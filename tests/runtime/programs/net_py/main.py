"""The network tests' Python program: a client for a line-echo server (TCP) and an HTTP one.

    main.py lookup HOST          resolve HOST (socket.getaddrinfo)
    main.py tcp HOST:PORT        send "ping" to a line-echo server, print its reply
    main.py http HOST:PORT       GET / with http.client
    main.py url URL              GET URL with urllib.request

A failure prints the exception's class and errno and exits with status 3.
"""

# socket.getaddrinfo encodes host names with the idna codec: imported so the bundle has it
import encodings.idna  # noqa: F401
import http.client
import socket
import sys
import urllib.request


def lookup(host: str) -> str:
    found = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)
    return "resolved " + " ".join(sorted({info[4][0] for info in found}))


def tcp(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(b"ping\n")
        return "tcp reply: " + conn.makefile("rb").readline().decode().strip()


def http_get(host: str, port: int) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"X-Client": "wasmforge-test"})
        response = conn.getresponse()
        return f"http: {response.status} {response.read().decode().strip()}"
    finally:
        conn.close()


def url_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return f"urllib: {response.status} {response.read().decode().strip()}"


def split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mode, target = argv[1], argv[2]
    try:
        if mode == "lookup":
            print(lookup(target))
        elif mode == "url":
            print(url_get(target))
        else:
            print((tcp if mode == "tcp" else http_get)(*split(target)))
    except OSError as err:
        reason = getattr(err, "reason", None)  # urllib wraps the socket's error
        cause = reason if isinstance(reason, OSError) else err
        print(f"{mode} {target} failed: {type(cause).__name__} errno={cause.errno} {cause}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
