"""A KVM that runs Hyperlight VMs on hosts whose own /dev/kvm cannot (nested PVM).

QEMU's software CPU (TCG) emulates AMD's SVM, so a Debian kernel booted in it gets a
working /dev/kvm from kvm-amd: a real KVM, nested in emulation. The VM sees this host's
root through 9p under a RAM overlay (so it writes nothing back) and runs one command in
it as its init (switch_root, so bubblewrap's user namespaces work there too). Hyperlight
VMs created there boot for real; their timings are emulation's, not a hypervisor's.

    python tests/support/nested_kvm.py prepare          # once; needs Debian's packages (setup.sh)
    python tests/support/nested_kvm.py run -- CMD ...   # CMD in the VM, from the current folder

Parts, all from Debian's packages: qemu-system-x86, busybox-static, kmod, cpio and the
kernel of `linux-image-amd64` (downloaded and unpacked here, never installed).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
KERNEL_PACKAGE = "linux-image-amd64"
# Loaded in this order (each after what it needs).
MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
           "virtio_pci", "9pnet", "netfs", "fscache", "9p", "9pnet_virtio", "overlay",
           "irqbypass", "ccp", "kvm", "kvm-amd")
EXIT_MARK = "=== nested-kvm exit "

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in MODULES; do insmod /modules/$m.ko 2>/dev/null || echo "nested-kvm: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro host /lower
mount -t tmpfs -o size=90% rw /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /root
mount -t proc proc /root/proc; mount -t sysfs sys /root/sys; mount -t devtmpfs dev /root/dev
script=$(sed -n 's/.* nested_kvm_script=\([^ ]*\).*/\1/p' /proc/cmdline)
echo 1 > /proc/sys/kernel/sysrq
# switch_root, not chroot: the kernel refuses new user namespaces (bubblewrap) in a chroot.
exec switch_root /root /bin/sh -c \
  "/bin/sh $script; echo EXIT_MARK\$?; echo o > /proc/sysrq-trigger; while :; do :; done"
""".replace("MODULES", " ".join(MODULES)).replace("EXIT_MARK", EXIT_MARK)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wasmforge" / "nested-kvm"


@dataclass(frozen=True)
class Machine:
    kernel: Path
    initrd: Path


def missing() -> str:
    """Why no nested KVM can be started here, or "" when it can."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (apt-get install qemu-system-x86)"
    found = find_machine()
    if found is None:
        return f"no kernel and initrd in {cache_dir()} (python tests/support/nested_kvm.py prepare)"
    return ""


def find_machine() -> Machine | None:
    kernel, initrd = cache_dir() / "vmlinuz", cache_dir() / "initrd.gz"
    return Machine(kernel, initrd) if kernel.is_file() and initrd.is_file() else None


def prepare() -> Machine:
    """Unpack Debian's kernel and build the initrd (kvm-amd, 9p, overlay, busybox)."""
    for tool in (QEMU, "apt-get", "dpkg-deb", "depmod", "cpio"):
        if shutil.which(tool) is None:
            raise SystemExit(f"nested-kvm: {tool} is missing (scripts/setup.sh installs it)")
    if not os.access(BUSYBOX, os.X_OK):
        raise SystemExit("nested-kvm: busybox is missing (apt-get install busybox-static)")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    package = _kernel_package()
    made = find_machine()
    stamp = target / "kernel-package"
    if made and stamp.is_file() and stamp.read_text().startswith(f"{package}_") \
            and (target / "init").is_file() and (target / "init").read_text() == INIT:
        return made
    with tempfile.TemporaryDirectory(prefix="nested-kvm-") as tmp:
        work = Path(tmp)
        subprocess.run(["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", package],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        deb = next(work.glob(f"{package}_*.deb"))
        unpacked = work / "unpacked"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        release = package.removeprefix("linux-image-")
        subprocess.run(["depmod", "-b", str(unpacked), release], check=True)
        tree = unpacked / "lib" / "modules" / release
        initrd = work / "initrd"
        for name in ("bin", "proc", "sys", "dev", "modules", "lower", "rw", "root"):
            (initrd / name).mkdir(parents=True)
        shutil.copy(BUSYBOX, initrd / "bin" / "busybox")
        for module in MODULES:
            shutil.copy(_module_path(tree, module), initrd / "modules" / f"{module}.ko")
        (initrd / "init").write_text(INIT)
        (initrd / "init").chmod(0o755)
        listing = subprocess.run(["find", "."], cwd=initrd, check=True, capture_output=True)
        archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=initrd,
                                 input=listing.stdout, check=True, capture_output=True)
        partial = target / "initrd.gz.partial"
        subprocess.run(["gzip", "-1"], input=archive.stdout, check=True,
                       stdout=partial.open("wb"))
        shutil.copy(unpacked / "boot" / f"vmlinuz-{release}", target / "vmlinuz")
        partial.replace(target / "initrd.gz")
        (target / "init").write_text(INIT)
        stamp.write_text(deb.name + "\n")
    return Machine(target / "vmlinuz", target / "initrd.gz")


def _kernel_package() -> str:
    """The versioned kernel package Debian's `linux-image-amd64` depends on now."""
    shown = subprocess.run(["apt-cache", "depends", KERNEL_PACKAGE], check=True,
                           capture_output=True, text=True).stdout
    found = re.search(r"Depends:\s*(linux-image-[0-9][^\s]*-amd64)", shown)
    if not found:
        raise SystemExit(f"nested-kvm: apt-cache shows no kernel behind {KERNEL_PACKAGE}")
    return found.group(1)


def _module_path(tree: Path, name: str) -> Path:
    for line in (tree / "modules.dep").read_text().splitlines():
        path = line.split(":", 1)[0]
        if Path(path).name in (f"{name}.ko", f"{name}.ko.xz"):
            if path.endswith(".xz"):
                raise SystemExit(f"nested-kvm: {path} is compressed; busybox insmod wants .ko")
            return tree / path
    raise SystemExit(f"nested-kvm: the kernel has no module {name}")


@dataclass(frozen=True)
class Result:
    exit_code: int | None  # None: the VM stopped before the command ended
    output: str


def run(command: str, *, memory_mib: int = 8192, cpus: int = 1, timeout_s: float = 900,
        console_log: Path | None = None) -> Result:
    """Run a shell command in a nested-KVM VM, from the current folder; its output and exit.

    The VM has this host's files (writes stay in its RAM), /dev/kvm from kvm-amd, and the
    caller's PATH, HOME and PYTHON* / WASMFORGE* variables. The console is written to
    `console_log` as it comes (follow it with tail -f)."""
    machine = find_machine()
    if machine is None:
        raise RuntimeError(missing())
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME") or k.startswith(("PYTHON", "WASMFORGE"))}
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(keep.items())]
    lines += [f"cd {shlex.quote(os.getcwd())}", command]
    with tempfile.TemporaryDirectory(prefix="nested-kvm-", dir="/var/tmp") as tmp:
        script = Path(tmp) / "command.sh"
        script.write_text("\n".join(lines) + "\n")
        log = console_log or Path(tmp) / "console.log"
        argv = [QEMU, "-accel", "tcg,thread=multi", "-cpu", "max,vendor=AuthenticAMD,+svm",
                "-smp", str(cpus), "-m", f"{memory_mib}M", "-nographic", "-no-reboot",
                "-kernel", str(machine.kernel), "-initrd", str(machine.initrd),
                "-append", f"console=ttyS0 quiet panic=1 nested_kvm_script={script}",
                "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,"
                           "multidevs=remap"]
        for _attempt in range(ATTEMPTS):
            late = _boot(argv, log, timeout_s)
            if not late.startswith(LOCKUP):
                break
        text = _console(log.read_bytes().decode("utf-8", "replace")) + late
    found = None if late else re.search(re.escape(EXIT_MARK) + r"(\d+)", text)
    return Result(int(found.group(1)) if found else None, text)


ATTEMPTS = 3
LOCKUP = "\n(nested-kvm: the VM's kernel locked up"
_LOCKUP_SIGN = b"watchdog: BUG: soft lockup"


def _boot(argv: list[str], log: Path, timeout_s: float) -> str:
    """Run the VM to its end; "" when it ended by itself, else why it was stopped.

    Now and then (here: two long runs in eight with two emulated CPUs) the nested KVM
    hangs in a vCPU that never leaves its guest, and the VM's kernel reports a soft
    lockup; that boot is stopped at once so that `run` can try again."""
    deadline = time.monotonic() + timeout_s
    with log.open("wb") as sink:
        vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink,
                              stderr=subprocess.STDOUT)
        try:
            while vm.poll() is None:
                if time.monotonic() > deadline:
                    return f"\n(nested-kvm: stopped after {timeout_s:g} s)"
                if _LOCKUP_SIGN in log.read_bytes()[-65536:]:
                    return f"{LOCKUP}; stopped)"
                time.sleep(1)
            return ""
        finally:
            if vm.poll() is None:
                vm.kill()
                vm.wait()


def _console(text: str) -> str:
    """The serial console without the firmware's screen-clearing preamble."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc", "", text).replace("\r", "")
    booted = text.find("Booting from ROM")
    return text[booted:].removeprefix("Booting from ROM").lstrip(".") if booted >= 0 else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("prepare")
    running = sub.add_parser("run")
    running.add_argument("--memory-mib", type=int, default=8192)
    running.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.verb == "prepare":
        machine = prepare()
        print(f"nested-kvm: {machine.kernel} and {machine.initrd}")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = run(shlex.join(command), memory_mib=args.memory_mib)
    sys.stdout.write(result.output)
    return 125 if result.exit_code is None else result.exit_code


if __name__ == "__main__":
    sys.exit(main())
