"""wasmforge: six languages to signed, capability-scoped WebAssembly component images."""

__version__ = "0.1.0"
