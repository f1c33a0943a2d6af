"""The Hyperlight executor fixtures (tests/support/guest_fixtures.py) for this folder."""

from guest_fixtures import (  # noqa: F401  (fixtures)
    aot_wasmtime,
    composed,
    executor,
    guest_work,
    hyperlight_image_layers,
    jco,
    monkeypatch_session,
    user_component,
)
