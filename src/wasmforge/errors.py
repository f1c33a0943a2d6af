"""The one error type a user sees: what went wrong, where, and what to do about it."""

from __future__ import annotations


class WasmforgeError(Exception):
    """A user-facing failure. The CLI prints `str(err)` and exits with `exit_code`.

    Parts raise subclasses of this for anything a user can fix (bad input, missing
    toolchain, tampered image); anything else is a bug and may show a traceback.
    """

    exit_code: int = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = self.what.rstrip(".")
        if self.where:
            text = f"{self.where}: {text}"
        if self.fix:
            text = f"{text}; {self.fix.rstrip('.')}"
        return text + "."


class ManifestError(WasmforgeError):
    """wasmforge.toml is malformed: names the file, the key and the line."""


class ToolchainMissing(WasmforgeError):
    """A language's toolchain is not installed; `fix` names the command that installs it."""

    exit_code = 3


class BuildFailed(WasmforgeError):
    """The language's compiler rejected the source; `what` carries its message."""


class ImageError(WasmforgeError):
    """An image is malformed, tampered with, unsigned or untrusted."""


class CapabilityError(WasmforgeError):
    """A component or an operator asked for more than the manifest grants."""


class RuntimeFailure(WasmforgeError):
    """The guest trapped, ran out of time or memory, or the backend is unusable."""
