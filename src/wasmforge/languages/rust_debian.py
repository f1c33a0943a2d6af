"""A current Rust for wasm32-wasip1 from Debian 12's own packages, without root.

Debian 12 serves rustc-web/cargo-web (a current Rust, in the security suite), its std
sources (rust-web-src, with library/Cargo.lock and vendor/), lld-22 and wasi-libc.
`apt install rustc-web` would remove Debian's rustc, so the pinned .debs are fetched
with `apt-get download`, checked against their pinned sha256 and unpacked with
`dpkg-deb -x` into the toolchain cache. The wasm32-wasip1 std is then built once from
those sources (`-Zbuild-std`, the only use of RUSTC_BOOTSTRAP) into a sysroot: its
rlibs, plus wasi-libc's objects in `self-contained/`. Debian's 2022 wasi-libc lacks
the single-thread pthread stubs std links against (`pthread_attr_destroy`,
`pthread_detach`, ...), so the pinned zig's wasi-libc objects for them are added to
that copy of libc.a. Every later build is a plain cargo build with `--sysroot`, linked
by wasm-ld-22.

The heap trap (`assertion failed at adapter line 2857` once a Rust heap grew past about
1 MiB): the preview1 adapter allocates its state through the main module's
`cabi_realloc` when it exports one, and otherwise grows linear memory itself. The 2022
wasi-libc's malloc claims everything from `__heap_base` to the memory size it sees at
its first call (`sbrk(0)`), later ones than `__heap_end`, so the adapter's page, grown
before that first call, became heap and was overwritten. Every program is therefore
linked with `cabi_realloc` over malloc (CABI_REALLOC_C), so the adapter's state is an
ordinary allocation.

When Debian's security suite moves on, the pinned versions vanish from
deb.debian.org (they stay on snapshot.debian.org): an installed toolchain keeps
working; a fresh install fails with a sentence naming the .debs to fetch by hand
into `debs_dir()` (or `$WASMFORGE_DEBS`), where the installer looks first.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import ToolchainMissing, WasmforgeError
from wasmforge.languages.tools import install_remedy, python_with, require_pip, toolchains_dir

RUST_VERSION = "1.96.0"
DEBIAN_RUST = "1.96.0+dfsg1-1~deb12u2"  # bookworm-security
DEBIAN_LLD = "1:22.1.8-1~deb12u1"  # bookworm-security
DEBIAN_WASI_LIBC = "0.0~git20220510.9886d3d-2"  # bookworm main
TARGET = "wasm32-wasip1"
SYSROOT_REV = "1"  # bump when the sysroot recipe below changes
CABI_REALLOC_REV = "1"  # bump when CABI_REALLOC_C changes
_SNAPSHOT = "https://snapshot.debian.org/binary/{name}/"


@dataclass(frozen=True)
class Deb:
    name: str
    version: str
    arch: str
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


DEBS = (
    Deb("rustc-web", DEBIAN_RUST, "amd64",
        "8fefe1d6377fe4082f5a9d2a47e095e2d20319eaab9754bd2f0275155c9adf90"),
    Deb("cargo-web", DEBIAN_RUST, "amd64",
        "daa5189c56b7e0895f9c89335aae3fc909272f5df332c101c80405695014b149"),
    Deb("libstd-rust-web-1.96", DEBIAN_RUST, "amd64",
        "3755f30434ae29574c91b0beb86632bee401607b0ac35c3e52810f9a53fae0d1"),
    Deb("libstd-rust-web-dev", DEBIAN_RUST, "amd64",
        "e38dbeaaad673fc63fb47c5140cf34da271ac71c3ecafc828b762c2fb01fe77a"),
    Deb("rust-web-src", DEBIAN_RUST, "all",
        "9de8597c464d0a9283672973ed7e50092b49a92b95861429043fe8b57468a208"),
    Deb("libllvm22", DEBIAN_LLD, "amd64",
        "729ec3e943d320515c2bbdc96acfffd7ce34861e62bd5c42726bf586d644dfe2"),
    Deb("lld-22", DEBIAN_LLD, "amd64",
        "13103b3fb3195bfeade9835d3906a4cc91002010f9013d98aa1fc55b841d07b4"),
    Deb("wasi-libc", DEBIAN_WASI_LIBC, "all",
        "513e25eeca77f7e31adf928b684714dd656cc6bc70c2970abfe3b4117e3b736f"),
)
# Shared libraries the unpacked binaries load, installed the ordinary way (apt): cargo's
# (libgit2, curl, ssh2, sqlite), LLVM 22's, and gcc + libc6-dev, the host linker that
# build scripts and proc macros need.
SYSTEM_PACKAGES = ("gcc", "libc6-dev", "libgit2-1.5", "libcurl4", "libssh2-1", "libsqlite3-0",
                   "libedit2", "libffi8", "libxml2", "libz3-4")


def pins() -> dict[str, str]:
    """What toolchain_versions() records: constant, whatever is installed."""
    return {"rustc": RUST_VERSION, "debian rustc-web": DEBIAN_RUST, "lld": DEBIAN_LLD,
            "wasi-libc": DEBIAN_WASI_LIBC, "sysroot": SYSROOT_REV,
            "cabi_realloc": CABI_REALLOC_REV}


@dataclass(frozen=True)
class DebianRust:
    """The unpacked toolchain and its wasm32-wasip1 sysroot."""

    home: Path

    @property
    def usr(self) -> Path:
        return self.home / "root" / "usr"

    @property
    def cargo(self) -> Path:
        return self.usr / "bin" / "cargo"

    @property
    def rustc(self) -> Path:
        return self.usr / "bin" / "rustc"

    @property
    def wasm_ld(self) -> Path:
        return self.usr / "lib" / "llvm-22" / "bin" / "wasm-ld"

    @property
    def sysroot(self) -> Path:
        return self.home / "sysroot"

    @property
    def std_sources(self) -> Path:
        return self.usr / "lib" / "rustlib" / "src" / "rust" / "library"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` plus what the unpacked binaries need (their shared libraries)."""
        libs = str(self.usr / "lib" / "x86_64-linux-gnu")
        env = dict(base)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (libs, base.get("LD_LIBRARY_PATH", "")) if p)
        env.update(RUSTC=str(self.rustc), RUSTDOC=str(self.usr / "bin" / "rustdoc"))
        for name in ("RUSTC_BOOTSTRAP", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS",
                     "CARGO_BUILD_TARGET", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER"):
            env.pop(name, None)
        return env


CABI_REALLOC_C = """\
#include <stdlib.h>
#include <string.h>

/* The WASI adapter's allocator (see rust_debian.py): its state comes from malloc. */
__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
    if (new_size == 0) {
        return (void *)align;
    }
    void *fresh = aligned_alloc(align, (new_size + align - 1) / align * align);
    if (fresh == NULL) {
        abort();
    }
    if (ptr != NULL) {
        memcpy(fresh, ptr, old_size < new_size ? old_size : new_size);
        free(ptr);
    }
    return fresh;
}
"""


def cabi_realloc_object(chain: DebianRust) -> Path:
    """CABI_REALLOC_C compiled once (zig) into the toolchain's folder; every link uses it."""
    from wasmforge.languages.c import ZIG

    obj = chain.home / f"cabi_realloc-{CABI_REALLOC_REV}.o"
    if obj.is_file():
        return obj
    with tempfile.TemporaryDirectory(prefix="wasmforge-realloc-") as scratch:
        source = Path(scratch) / "cabi_realloc.c"
        source.write_text(CABI_REALLOC_C)
        env = python_with(require_pip(ZIG, "rust"))
        cache = toolchains_dir() / "zig-cache"
        env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(cache))
        env.setdefault("ZIG_LOCAL_CACHE_DIR", str(cache))
        staged = Path(scratch) / "cabi_realloc.o"
        _run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2", "-c",
              str(source), "-o", str(staged)], "compiling cabi_realloc", env=env)
        shutil.copyfile(staged, obj.with_suffix(".tmp"))
        obj.with_suffix(".tmp").replace(obj)
    return obj


def toolchain_home() -> Path:
    return toolchains_dir() / f"rust-{DEBIAN_RUST.replace('~', '-')}-sysroot{SYSROOT_REV}"


def debs_dir() -> Path:
    explicit = os.environ.get("WASMFORGE_DEBS")
    return Path(explicit) if explicit else toolchains_dir() / "debs"


def installed() -> DebianRust | None:
    """The installed toolchain (a marker file, no subprocess), or None."""
    home = toolchain_home()
    return DebianRust(home) if (home / ".installed").is_file() else None


def require() -> DebianRust:
    chain = installed()
    if chain is None:
        raise ToolchainMissing(
            f"Rust {RUST_VERSION} for {TARGET} (Debian's rustc-web {DEBIAN_RUST}, unpacked "
            "into the wasmforge cache) is not installed", fix=install_remedy("rust"))
    return chain


_CARGO_WRAPPER = """\
#!/bin/sh
# cargo of wasmforge's pinned Debian Rust, runnable from anywhere (written by wasmforge)
usr="$(dirname "$(readlink -f "$0")")/../root/usr"
export LD_LIBRARY_PATH="$usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUSTC="$usr/bin/rustc" RUSTDOC="$usr/bin/rustdoc"
exec "$usr/bin/cargo" "$@"
"""


def host_cargo() -> Path | None:
    """A cargo (Rust RUST_VERSION, host std included) for host tools such as the Hyperlight
    precompiler, when the toolchain is installed: a wrapper that sets its library path."""
    chain = installed()
    if chain is None:
        return None
    wrapper = chain.home / "bin" / "cargo"
    if not wrapper.is_file():
        wrapper.parent.mkdir(exist_ok=True)
        staged = wrapper.with_suffix(".tmp")
        staged.write_text(_CARGO_WRAPPER)
        staged.chmod(0o755)
        staged.replace(wrapper)
    return wrapper


def moved_on_note() -> str:
    """What doctor says about the pins' future (the security suite replaces versions)."""
    return (f"rustc-web {DEBIAN_RUST} and lld-22 {DEBIAN_LLD} come from Debian's security "
            "suite; once it moves on they are no longer downloadable: an installed "
            "toolchain keeps working, a fresh install needs the .debs from "
            f"snapshot.debian.org in {debs_dir()} (the install names them)")


def installed_note() -> str:
    """The short form, for a usable toolchain's row in doctor."""
    return ("this install keeps working; a fresh one needs the pinned .debs from "
            f"snapshot.debian.org in {debs_dir()}")


def install() -> Iterator[str]:
    """Fetch, check and unpack the pinned .debs, then build the sysroot (once)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        raise ToolchainMissing(f"the pinned Debian Rust packages are for amd64, not "
                               f"{platform.machine()}",
                               fix="install rustup with the wasm32-wasip2 target instead")
    if installed() is not None:
        yield f"✓ Rust {RUST_VERSION} for {TARGET} (Debian rustc-web {DEBIAN_RUST}) " \
              "already installed"
        return
    debs = fetch_debs()
    yield f"✓ {len(debs)} pinned Debian packages fetched and checked ({debs_dir()})"
    home = toolchain_home()
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rust-", dir=home.parent))
    try:
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(staging / "root")], f"dpkg-deb -x {deb.name}")
        build_sysroot(DebianRust(staging))
        cabi_realloc_object(DebianRust(staging))
        (staging / ".installed").write_text(json.dumps(pins(), indent=1) + "\n")
        shutil.rmtree(home, ignore_errors=True)
        staging.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    yield f"✓ Rust {RUST_VERSION} with a {TARGET} sysroot installed into {home}"


def fetch_debs() -> list[Path]:
    """Every pinned .deb in debs_dir(), downloaded when absent, sha256-checked."""
    folder = debs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    missing = [deb for deb in DEBS if not _verified(folder / deb.file_name, deb)]
    if missing:
        _apt_download(missing, folder)
    for deb in DEBS:
        path = folder / deb.file_name
        if not _verified(path, deb):
            path.unlink(missing_ok=True)
            raise WasmforgeError(f"{deb.file_name} does not have the pinned sha256 "
                                 f"{deb.sha256}", where=str(folder),
                                 fix="remove it and run the install again")
    return [folder / deb.file_name for deb in DEBS]


def _verified(path: Path, deb: Deb) -> bool:
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == deb.sha256


def _apt_download(debs: list[Deb], folder: Path) -> None:
    if shutil.which("apt-get") is None:
        raise ToolchainMissing("apt-get is not on PATH (the Rust toolchain is Debian 12's)",
                               fix=_fetch_by_hand(debs, folder))
    proc = subprocess.run(["apt-get", "download", *[deb.spec for deb in debs]], cwd=folder,
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return
    if os.geteuid() == 0:  # package lists missing or stale (a fresh machine): refresh once
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True)
        proc = subprocess.run(["apt-get", "download", *[deb.spec for deb in debs]],
                              cwd=folder, capture_output=True, text=True)
        if proc.returncode == 0:
            return
    reason = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise ToolchainMissing(
        f"apt-get download of the pinned Rust packages failed ({reason}); if Debian's "
        f"security suite has moved past rustc-web {DEBIAN_RUST} or lld-22 {DEBIAN_LLD}, "
        "those versions are only on snapshot.debian.org now", fix=_fetch_by_hand(debs, folder))


def _fetch_by_hand(debs: list[Deb], folder: Path) -> str:
    names = ", ".join(f"{deb.file_name} ({_SNAPSHOT.format(name=deb.name)})" for deb in debs)
    return (f"put {names} into {folder} (or the folder $WASMFORGE_DEBS names) and run "
            f"`wasmforge toolchain install rust` again, or update wasmforge for newer pins")


def build_sysroot(chain: DebianRust) -> None:
    """Build std for TARGET from the unpacked sources and lay out the sysroot."""
    lib = chain.sysroot / "lib" / "rustlib" / TARGET / "lib"
    contained = lib / "self-contained"
    contained.mkdir(parents=True)
    # Inside the toolchain's folder, so that std's paths relative to the build (which
    # cargo hashes into crate names) are the same in every install.
    scratch = chain.home / "std-build"
    try:
        deps = _build_std(chain, scratch)
        for rlib in sorted(deps.glob("*.rlib")):
            if not rlib.name.startswith("libsysroot_seed"):
                shutil.copy2(rlib, lib / rlib.name)
        wasi_libc = chain.usr / "lib" / "wasm32-wasi"
        for item in sorted(wasi_libc.iterdir()):
            shutil.copy2(item, contained / item.name)
        _add_pthread_stubs(contained / "libc.a", scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _build_std(chain: DebianRust, scratch: Path) -> Path:
    seed = scratch / "seed"
    (seed / "src").mkdir(parents=True)
    (seed / "Cargo.toml").write_text('[package]\nname = "sysroot-seed"\nversion = "0.0.0"\n'
                                     'edition = "2024"\n\n[profile.release]\nopt-level = 3\n')
    (seed / "src" / "lib.rs").write_text("")
    vendor = chain.std_sources / "vendor"
    env = chain.env(dict(os.environ))
    # The only bootstrap use: -Zbuild-std. Paths in std's panic messages are remapped so
    # that the sysroot (and every program linked with it) is the same in any cache folder.
    env.update(RUSTC_BOOTSTRAP="1", CARGO_HOME=str(scratch / "cargo-home"),
               CARGO_TARGET_DIR=str(scratch / "target"),
               RUSTFLAGS=f"--remap-path-prefix={chain.usr}=/usr")
    _run([str(chain.cargo), "build", "--release", "--offline", "--target", TARGET,
          "-Zbuild-std=std,panic_abort",
          "--config", 'source.crates-io.replace-with="debian-std-vendor"',
          "--config", f'source.debian-std-vendor.directory="{vendor}"',
          "--manifest-path", str(seed / "Cargo.toml")],
         f"building Rust's std for {TARGET}", env=env, timeout=3600)
    return scratch / "target" / TARGET / "release" / "deps"


_PTHREAD_PROBE = """\
#include <pthread.h>
int main(void) {
    pthread_attr_t attr; pthread_t thread;
    pthread_attr_init(&attr); pthread_attr_setstacksize(&attr, 65536);
    if (pthread_create(&thread, &attr, 0, 0) == 0) { pthread_join(thread, 0); }
    pthread_detach(thread); pthread_attr_destroy(&attr);
    return 0;
}
"""


def _add_pthread_stubs(libc: Path, scratch: Path) -> None:
    """Add the pinned zig's single-thread pthread objects to the sysroot's libc.a."""
    from wasmforge.languages.c import ZIG

    probe = scratch / "pthread.c"
    probe.write_text(_PTHREAD_PROBE)
    cache = scratch / "zig-cache"
    env = python_with(require_pip(ZIG, "rust"))
    env.update(ZIG_GLOBAL_CACHE_DIR=str(cache), ZIG_LOCAL_CACHE_DIR=str(cache))
    _run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", str(probe), "-o",
          str(scratch / "pthread.wasm")], "building zig's wasi-libc", env=env)
    objects = {}
    for archive in sorted(cache.glob("o/*/libc.a")):  # a thin archive: members by path
        listed = subprocess.run(["ar", "t", str(archive)], capture_output=True, text=True)
        for line in listed.stdout.splitlines():
            path = Path(line)
            if path.name.startswith("pthread_") or path.name == "default_attr.o":
                objects.setdefault(path.name, path)
    if "pthread_detach.o" not in objects or "default_attr.o" not in objects:
        raise WasmforgeError(f"zig {ZIG.version} built no pthread stubs for wasm32-wasi",
                             fix=f"reinstall it: {install_remedy('c')}")
    members = scratch / "pthread-stubs"
    members.mkdir()
    for name, path in sorted(objects.items()):
        shutil.copy2(path, members / name)
    _run(["ar", "rcsD", str(libc), *sorted(str(p) for p in members.iterdir())],
         "adding pthread stubs to libc.a")


def _run(argv: list[str], what: str, *, env: dict[str, str] | None = None,
         timeout: float = 900) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise WasmforgeError(f"{what} failed (exit {proc.returncode}):\n{tail}\n",
                             fix="run `wasmforge toolchain install rust` again; if it fails "
                                 "the same way, report it with this output")
