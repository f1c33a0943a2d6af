"""Mount escapes, tried by a hostile guest built and signed by `wasmforge build --sign-key`
and run through `wasmforge run` in every usable tier.

The guest (tests/runtime/escape/main.c) prints the errno text of each refusal; each test
asserts that text, the guest's failure status, and that no host content reached it and
nothing it tried landed on the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tier_support import require_tier

from wasmforge.runtime.tiers import status

HERE = Path(__file__).parent
SECRET = "host-secret-7f3a"
EPERM = "errno Operation not permitted"
ENOENT = "errno No such file or directory"
TIERS = ("wasm", "process", "hypervisor")


@dataclass(frozen=True)
class Built:
    image: Path
    home: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from wasmforge.languages import get_driver

    state = get_driver("c").status()
    if not state.usable:
        pytest.skip(f"the C toolchain is not usable here: {state.problem} ({state.remedy})")
    work = tmp_path_factory.mktemp("escape")
    home = work / "home"
    root = work / "escape"
    shutil.copytree(HERE / "escape", root)
    cli = _cli(home)
    assert cli("keygen", "--out", str(work / "key")).returncode == 0
    args = ["build", str(root), "--sign-key", str(work / "key.key")]
    if status("hypervisor").usable:
        args.append("--hyperlight")
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return Built(root / "build" / "escape.oci.tar", home)


def _cli(home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = dict(os.environ, WASMFORGE_HOME=str(home))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                              text=True, env=env, timeout=600)
    return run


@pytest.fixture(params=TIERS)
def tier(request: pytest.FixtureRequest) -> str:
    return require_tier(str(request.param))


@dataclass(frozen=True)
class Host:
    root: Path  # holds the secret, beside the mounts
    rw: Path
    ro: Path


@pytest.fixture()
def host(tmp_path: Path) -> Host:
    (tmp_path / "secret.txt").write_text(SECRET)
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "inside.txt").write_text("inside the ro mount")
    return Host(tmp_path, rw, ro)


def guest(built: Built, tier: str, host: Host, *argv: str) -> subprocess.CompletedProcess[str]:
    done = _cli(built.home)("run", str(built.image), "--isolation", tier,
                            "--mount", f"{host.rw}:/rw:rw", "--mount", f"{host.ro}:/ro:ro",
                            "--", *argv)
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
    return done


@pytest.mark.parametrize("target", ["../secret.txt", "../../../../../../etc/passwd",
                                    "sub/../../secret.txt", "/etc/passwd"])
def test_a_symlink_leading_out_of_the_rw_mount_is_refused(built: Built, tier: str, host: Host,
                                                          target: str) -> None:
    done = guest(built, tier, host, "symlink", target, "/rw/link")
    assert done.stdout == f"symlink: {EPERM}\n" and done.returncode != 0
    assert not os.path.lexists(host.rw / "link")
    assert os.listdir(host.rw) == []


def test_a_symlink_inside_the_rw_mount_is_made(built: Built, tier: str, host: Host) -> None:
    (host.rw / "data.txt").write_text("in the mount")
    done = guest(built, tier, host, "symlink", "data.txt", "/rw/link")
    assert done.stdout == "symlink: ok\n" and done.returncode == 0
    assert os.readlink(host.rw / "link") == "data.txt"
    assert guest(built, tier, host, "read", "/rw/link").stdout == "read: in the mount\n"


def test_dotdot_out_of_a_mount_is_refused(built: Built, tier: str, host: Host) -> None:
    for path in ("/rw/../secret.txt", "/ro/../secret.txt", "/rw/../../secret.txt"):
        done = guest(built, tier, host, "read", path)
        assert done.stdout == f"read: {EPERM}\n" and done.returncode != 0, path


def test_a_host_symlink_out_of_a_mount_is_not_followed(built: Built, tier: str,
                                                       host: Host) -> None:
    (host.ro / "outward").symlink_to(host.root / "secret.txt")
    (host.ro / "relative").symlink_to("../secret.txt")
    for path in ("/ro/outward", "/ro/relative"):
        done = guest(built, tier, host, "read", path)
        assert done.stdout == f"read: {EPERM}\n" and done.returncode != 0, path


def test_undeclared_paths_do_not_exist_for_the_guest(built: Built, tier: str,
                                                     host: Host) -> None:
    for path in ("/etc/passwd", str(host.root / "secret.txt"), "/proc/self/environ"):
        done = guest(built, tier, host, "read", path)
        assert done.stdout == f"read: {ENOENT}\n" and done.returncode != 0, path
    listing = guest(built, tier, host, "list", "/")
    assert listing.stdout == f"list: {ENOENT}\n"


def test_the_ro_mount_is_read_only(built: Built, tier: str, host: Host) -> None:
    assert guest(built, tier, host, "read", "/ro/inside.txt").stdout == \
        "read: inside the ro mount\n"
    done = guest(built, tier, host, "write", "/ro/planted")
    assert done.stdout == f"write: {EPERM}\n" and done.returncode != 0
    assert sorted(os.listdir(host.ro)) == ["inside.txt"]
    assert guest(built, tier, host, "write", "/rw/planted").stdout == "write: ok\n"
    assert (host.rw / "planted").read_text() == "written by the guest\n"


def test_a_process_that_ran_a_guarded_wasm_run_still_guards_its_workers(
        built: Built, host: Host) -> None:
    """One process, two tiers (as `wasmforge bench` or a test session runs them): the wasm
    run's guard is inherited by the workers started afterwards, so they cannot start their
    own; the host's guard must then refuse their guests' links."""
    require_tier("process")
    code = (
        "import sys\n"
        "from wasmforge.runtime.run import RunRequest, run_image\n"
        "image, rw, ro = sys.argv[1:4]\n"
        "for tier, target in [('wasm', 'a'), ('process', '../secret.txt'), ('process', 'b')]:\n"
        "    request = RunRequest(image=image, isolation=tier, args=('symlink', target,\n"
        "        f'/rw/{tier}-{target[-1]}'), mounts=(f'{rw}:/rw:rw', f'{ro}:/ro:ro'))\n"
        "    print(tier, run_image(request, print), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code, str(built.image), str(host.rw),
                           str(host.ro)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, WASMFORGE_HOME=str(built.home)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "symlink: ok", "wasm 0", f"symlink: {EPERM}", "process 1", "symlink: ok", "process 0"]
    assert sorted(os.listdir(host.rw)) == ["process-b", "wasm-a"]
