"""`wasmforge serve`: wasi:http/proxy handlers, a fresh capability-scoped instance per request.

plan.py checks the image and resolves its grants (runtime/policy.py, as `run` does);
host.py builds and finds the serving host (host/, Rust on wasmtime-wasi-http); session.py
runs it in the wasm or process tier (sandbox.py, launch.py) and relays its request log.
"""

from wasmforge.runtime.serve.plan import ServeRequest
from wasmforge.runtime.serve.session import serve_image

__all__ = ["ServeRequest", "serve_image"]
