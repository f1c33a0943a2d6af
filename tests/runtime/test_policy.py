"""Grants and limits from manifest + operator flags (no guest needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmforge.errors import CapabilityError
from wasmforge.project import Capabilities, Limits, Mount
from wasmforge.runtime.backend import Grants
from wasmforge.runtime.policy import OperatorFlags, check_imports, resolve

CAPS = Capabilities(env=("A", "B"), mounts=(Mount("/data", "ro"), Mount("/out", "rw")),
                    limits=Limits(memory_bytes=64 << 20, timeout_s=10.0, fuel=1000))


def test_nothing_passed_grants_nothing() -> None:
    grants, limits = resolve(CAPS, OperatorFlags())
    assert grants.env == () and grants.preopens == () and grants.args == ()
    assert grants.network == ()
    assert (limits.memory_bytes, limits.timeout_s, limits.fuel) == (64 << 20, 10.0, 1000)


def test_mounts_resolve_to_real_paths_and_modes(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    grants, _ = resolve(CAPS, OperatorFlags(mounts=(f"{tmp_path}/link:/data/",
                                                    f"{tmp_path}:/out")))
    data, out = grants.preopens
    assert (data.host, data.guest, data.read_only) == (str(tmp_path / "real"), "/data", True)
    assert (out.host, out.guest, out.read_only) == (str(tmp_path), "/out", False)


def test_mount_refusals(tmp_path: Path) -> None:
    with pytest.raises(CapabilityError, match="binds /data twice"):
        resolve(CAPS, OperatorFlags(mounts=(f"{tmp_path}:/data", f"{tmp_path}:/data:ro")))
    with pytest.raises(CapabilityError, match="not an existing directory"):
        resolve(CAPS, OperatorFlags(mounts=(f"{tmp_path}/missing:/out",)))
    (tmp_path / "file").write_text("x")
    with pytest.raises(CapabilityError, match="not an existing directory"):
        resolve(CAPS, OperatorFlags(mounts=(f"{tmp_path}/file:/out",)))
    with pytest.raises(CapabilityError, match="HOST:GUEST"):
        resolve(CAPS, OperatorFlags(mounts=(f"{tmp_path}:data",)))


def test_env_refusals_and_values_with_equals() -> None:
    grants, _ = resolve(CAPS, OperatorFlags(env=("A=x=y", "B=")))
    assert grants.env == (("A", "x=y"), ("B", ""))
    with pytest.raises(CapabilityError, match="given twice"):
        resolve(CAPS, OperatorFlags(env=("A=1", "A=2")))
    with pytest.raises(CapabilityError, match="not declared"):
        resolve(CAPS, OperatorFlags(env=("PATH=/bin",)))


def test_limits_narrow_never_widen() -> None:
    _, limits = resolve(CAPS, OperatorFlags(timeout_s=1.5, memory="32MiB", fuel=10))
    assert (limits.memory_bytes, limits.timeout_s, limits.fuel) == (32 << 20, 1.5, 10)
    with pytest.raises(CapabilityError, match="--fuel 2000 is above"):
        resolve(CAPS, OperatorFlags(fuel=2000))
    with pytest.raises(CapabilityError, match="--memory 'lots' is invalid"):
        resolve(CAPS, OperatorFlags(memory="lots"))
    with pytest.raises(CapabilityError, match=r"^--timeout -1 is invalid: a duration must be "
                                              r"positive; give a positive number of seconds\.$"):
        resolve(CAPS, OperatorFlags(timeout_s=-1))


@pytest.mark.parametrize(("flags", "sentence"), [
    (OperatorFlags(timeout_s=float("nan")),
     "--timeout nan is invalid: a duration must be a number of seconds, not NaN; give a "
     "positive number of seconds."),
    (OperatorFlags(timeout_s=float("inf")),
     "--timeout inf is invalid: inf is longer than the longest cap, 168h (a week); give a "
     "positive number of seconds."),
    (OperatorFlags(timeout_s=0.0),
     "--timeout 0 is invalid: a duration must be positive; give a positive number of "
     "seconds."),
    (OperatorFlags(memory="12"),
     "--memory '12' is invalid: '12' is not a size; write a number with B, KiB, MiB or GiB."),
    (OperatorFlags(memory="12B"),
     "--memory '12B' is invalid: '12B' is below 1MiB, too little for any guest to start in."),
    (OperatorFlags(fuel=2**64),
     f"--fuel must be between 1 and {2**63 - 1}."),
])
def test_absurd_limits_are_refused_with_one_sentence(flags: OperatorFlags, sentence: str) -> None:
    with pytest.raises(CapabilityError) as caught:
        resolve(CAPS, flags)
    assert str(caught.value) == sentence


def test_imports_of_ungranted_clocks_or_random_are_refused() -> None:
    check_imports(["wasi:clocks/wall-clock@0.2.12"], Grants(clocks=True))
    with pytest.raises(CapabilityError, match="does not grant random"):
        check_imports(["wasi:random/random@0.2.0"], Grants(random=False))
