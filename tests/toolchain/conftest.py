"""The Hyperlight packaging tests (test_hyperlight.py) share the guest fixtures."""

from guest_fixtures import aot_wasmtime, jco, monkeypatch_session  # noqa: F401  (fixtures)
