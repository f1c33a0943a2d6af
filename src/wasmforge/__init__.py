"""wasmforge: programs in many languages to signed, capability-scoped WebAssembly images."""

__version__ = "0.1.0"
