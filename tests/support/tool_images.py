"""Signed images of tests/support/user_guest.c with tools declared, and the operator's tool
module (`vmtools`: add, sub, boom, slow; every call logged to calls.log beside it)."""

from __future__ import annotations

import os
from pathlib import Path

from wasmforge.image.model import ProvenanceInputs, WitSummary
from wasmforge.project import Capabilities, Limits, Mount, Project

TOOL_CAPS = Capabilities(args=True, env=("GREETING",),
                         mounts=(Mount("/input", "ro"), Mount("/output", "rw")),
                         tools=("add", "boom", "absent", "slow"),
                         limits=Limits(memory_bytes=32 << 20, timeout_s=20.0))
TOOLS_MODULE = '''import json
from pathlib import Path

LOG = Path(__file__).with_name("calls.log")


def _log(name, args_json):
    with LOG.open("a") as log:
        log.write(f"{name} {args_json}\\n")


def add(args_json):
    _log("add", args_json)
    args = json.loads(args_json)
    return json.dumps(args["a"] + args["b"])


def sub(args_json):
    _log("sub", args_json)
    return "0"


def slow(args_json):
    _log("slow", args_json)
    import time

    time.sleep(60)
    return "late"


def boom(args_json):
    _log("boom", args_json)
    raise ValueError("boom on purpose")
'''


def write_image_for_tests(out: Path, component: bytes, layers: list, key: Path | None
                          ) -> None:
    """The user guest's image with TOOL_CAPS, signed with `key` unless it is None."""
    from wasmforge.image.layout import write_image
    from wasmforge.image.signing import sign_image

    project = Project(root=out.parent, name="vmguest", version="0.1.0", language="c",
                      capabilities=TOOL_CAPS)
    write_image(out, project=project, component=component,
                wit=WitSummary(imports=(), exports=("wasi:cli/run@0.2.12",)),
                extra_layers=tuple(layers),
                provenance=ProvenanceInputs(sources={"user_guest.c": "sha256:" + "cd" * 32},
                                            toolchains={"zig": "0.17.0"},
                                            wasmforge_version="0.1.0",
                                            build_started=1700000000,
                                            build_finished=1700000000))
    if key is not None:
        sign_image(out, key)


def make_key(d: Path) -> Path:
    """A key pair at d/key.{key,pub}, trusted only by the store at d/home; the private key."""
    from wasmforge.image.keys import generate_keypair

    old = os.environ.get("WASMFORGE_HOME")
    os.environ["WASMFORGE_HOME"] = str(d / "home")  # keygen trusts the key it makes
    try:
        pair = generate_keypair(d / "key", None)
    finally:
        if old is None:
            os.environ.pop("WASMFORGE_HOME", None)
        else:
            os.environ["WASMFORGE_HOME"] = old
    return pair.private
