"""The capability manifest: published schema, exact round trip, clear errors."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from wasmforge.errors import ImageError
from wasmforge.image import capabilities
from wasmforge.project import Capabilities, Limits, Mount


def full() -> Capabilities:
    return Capabilities(args=False, stdio=True, env=("GREETING", "LANG"),
                        mounts=(Mount("/data", "ro"), Mount("/out", "rw")),
                        network=("https://api.example.com:443", "tcp://db:5432"),
                        clocks=False, random=True, isolation="process", tools=("add", "x.y"),
                        limits=Limits(memory_bytes=48 * 1024 * 1024, timeout_s=0.25, fuel=1000))


def test_schema_is_published_in_the_package_and_is_valid_json_schema() -> None:
    text = resources.files("wasmforge.image").joinpath("capabilities.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schemaVersion"] == {"const": 1}


@pytest.mark.parametrize("caps", [Capabilities(), full()], ids=["defaults", "everything"])
def test_round_trip_is_exact(caps: Capabilities) -> None:
    data = capabilities.to_json(caps)
    assert capabilities.from_json(data) == caps
    jsonschema.validate(json.loads(data), capabilities.schema())


def test_limits_are_written_in_human_units() -> None:
    doc = json.loads(capabilities.to_json(full()))
    assert doc["limits"] == {"memory": "48MiB", "timeout": "250ms", "fuel": 1000}
    assert doc["mounts"] == [{"guest": "/data", "mode": "ro"}, {"guest": "/out", "mode": "rw"}]


def test_the_same_manifest_gives_the_same_bytes() -> None:
    assert capabilities.to_json(full()) == capabilities.to_json(full())


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d.update(isolation="vm"), "isolation"),
    (lambda d: d["mounts"].append({"guest": "../etc", "mode": "ro"}), "mounts.2.guest"),
    (lambda d: d["mounts"].append({"guest": "/x", "mode": "rwx"}), "mounts.2.mode"),
    (lambda d: d["env"].append("NOT VALID"), "env.2"),
    (lambda d: d["network"].append("example.com"), "network.2"),
    (lambda d: d["limits"].update(memory="lots"), "limits.memory"),
    (lambda d: d["limits"].update(timeout="10 parsecs"), "limits.timeout"),
    (lambda d: d.update(sockets=True), "(top level)"),
    (lambda d: d.pop("stdio"), "(top level)"),
    (lambda d: d.update(schemaVersion=2), "schemaVersion"),
])
def test_invalid_manifests_name_the_key(edit, key: str) -> None:
    doc = json.loads(capabilities.to_json(full()))
    edit(doc)
    with pytest.raises(ImageError) as caught:
        capabilities.from_json(json.dumps(doc))
    message = str(caught.value)
    assert f"'{key}'" in message and message.count("\n") == 0


def test_garbage_is_refused_in_one_sentence() -> None:
    with pytest.raises(ImageError, match="not JSON"):
        capabilities.from_json(b"\xff\x00 not json")
