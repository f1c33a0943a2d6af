"""A real HTTP server on 127.0.0.1 for tests whose guests or handlers make requests: it
answers every GET with `answer(path)` and calls `on_request(path)` first."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable


class LoopbackHttp:
    def __init__(self, answer: bytes | Callable[[str], bytes],
                 on_request: Callable[[str], None] = lambda _path: None) -> None:
        def body(path: str) -> bytes:
            return answer(path) if callable(answer) else answer

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                on_request(self.path)
                data = body(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
