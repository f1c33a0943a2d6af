"""`wasmforge.toml`: the typed project model and its parser.

Every error names the file, the dotted key and the line it sits on, because a user
fixes manifests in an editor, not in a traceback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wasmforge.errors import ManifestError
from wasmforge.isolation import WEAKEST, TierName, is_tier, tier_list

MANIFEST_NAME = "wasmforge.toml"
LANGUAGES = ("c", "go", "rust", "python", "javascript", "csharp")
WORLDS = ("command", "http")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$|^[a-z]$")
NAME_RULE = (
    "a name is 1 to 64 characters of lowercase letters, digits and '-', "
    "starting with a letter and not ending with '-'"
)

MountMode = Literal["ro", "rw"]


@dataclass(frozen=True)
class Mount:
    """A host directory the guest may see, at `guest`, read-only unless mode is rw."""

    guest: str
    mode: MountMode = "ro"


@dataclass(frozen=True)
class Limits:
    """The manifest's caps: memory, wall time, and fuel when metered."""

    memory_bytes: int = 64 * 1024 * 1024
    timeout_s: float = 10.0
    fuel: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What the manifest grants the guest; anything absent is denied."""

    args: bool = True
    stdio: bool = True
    env: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: tuple[str, ...] = ()
    clocks: bool = True
    random: bool = True
    isolation: TierName = WEAKEST
    tools: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class BuildConfig:
    """The manifest's [build] table."""

    include_dirs: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    deny_ungranted: bool = False
    precompile: bool = False


@dataclass(frozen=True)
class Project:
    """A parsed wasmforge.toml and the folder it sits in."""

    root: Path
    name: str
    version: str
    language: str
    world: str = "command"
    build: BuildConfig = field(default_factory=BuildConfig)
    capabilities: Capabilities = field(default_factory=Capabilities)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def component_path(self) -> Path:
        return self.build_dir / f"{self.name}.wasm"

    @property
    def image_path(self) -> Path:
        return self.build_dir / f"{self.name}.oci.tar"


# ---------------------------------------------------------------- human units

_SIZE_UNITS = {
    "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
    "k": 1024, "m": 1024**2, "g": 1024**3,
}
_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_QUANTITY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
# A wasm32 memory cannot grow past 4 GiB; below 1 MiB not even a C hello instantiates.
MIN_MEMORY = 1024**2
MAX_MEMORY = 4 * 1024**3
# Beyond a week a cap means nothing, and far beyond it the clocks' integers overflow.
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_FUEL = 2**63 - 1  # wasmtime counts fuel in a u64


def parse_size(value: str | int) -> int:
    """'64MiB' -> 67108864. The unit is required, so that 12 is never taken as 12 bytes.
    Raises ValueError with the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} has no unit; write a size such as \"64MiB\" "
                         "(B, KiB, MiB or GiB)")
    match = _QUANTITY_RE.match(value)
    unit = match.group(2).lower() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size; write a number with B, KiB, MiB or GiB")
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def parse_memory(value: str | int) -> int:
    """A memory cap: a size between MIN_MEMORY and MAX_MEMORY."""
    size = parse_size(value)
    if size < MIN_MEMORY:
        raise ValueError(f"{value!r} is below 1MiB, too little for any guest to start in")
    if size > MAX_MEMORY:
        raise ValueError(f"{value!r} is above 4GiB, more than a wasm32 memory can hold")
    return size


def parse_duration(value: str | int | float) -> float:
    """'10s' -> 10.0, '250ms' -> 0.25. Raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"10s\", not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif not isinstance(value, str):
        raise ValueError(f"expected a duration such as \"10s\", not {type(value).__name__}")
    else:
        match = _QUANTITY_RE.match(value)
        unit = match.group(2).lower() if match else None
        if not match or unit not in _TIME_UNITS:
            raise ValueError(f"{value!r} is not a duration; write a number with ms, s, m or h")
        seconds = float(match.group(1)) * _TIME_UNITS[unit]
    if math.isnan(seconds):
        raise ValueError("a duration must be a number of seconds, not NaN")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{value!r} is longer than the longest cap, 168h (a week)")
    return seconds


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


# ---------------------------------------------------------------- parsing


class _Locator:
    """Finds the line of a dotted key in the manifest text (tomllib keeps no positions)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = header.group(1).replace('"', "").replace(" ", "")
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                dotted = f"{table}.{key.group(1).strip(chr(34))}" if table else key.group(1)
                self.lines.setdefault(dotted, number)

    def line_of(self, dotted: str) -> int | None:
        parts = dotted.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.locator = _Locator(text)

    def fail(self, key: str, what: str, fix: str | None = None) -> ManifestError:
        line = self.locator.line_of(key)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ManifestError(f"key '{key}' {what}", where=where, fix=fix)

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
        for name in data:
            if name not in allowed:
                raise self.fail(
                    f"{key}.{name}" if key else name,
                    "is not a known key",
                    f"known keys here are: {', '.join(sorted(allowed))}",
                )
        return data

    def get(self, data: Mapping[str, Any], table: str, name: str, kind: type | tuple[type, ...],
            default: Any = ..., kind_name: str = "") -> Any:
        key = f"{table}.{name}"
        if name not in data:
            if default is ...:
                raise self.fail(key, "is required", f"add `{name} = ...` under [{table}]")
            return default
        value = data[name]
        bad_bool = isinstance(value, bool) and bool not in _as_tuple(kind)
        if bad_bool or not isinstance(value, kind):
            expected = kind_name or " or ".join(k.__name__ for k in _as_tuple(kind))
            raise self.fail(key, f"must be {expected}, not {type(value).__name__} {value!r}")
        return value

    def strings(self, data: Mapping[str, Any], table: str, name: str) -> tuple[str, ...]:
        values = self.get(data, table, name, list, [], "a list of strings")
        for item in values:
            if not isinstance(item, str):
                raise self.fail(f"{table}.{name}", f"must hold only strings, not {item!r}")
        return tuple(values)

    def convert(self, key: str, value: Any, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(value)
        except ValueError as err:
            raise self.fail(key, f"is invalid: {err}") from None


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETWORK_RE = re.compile(r"^(https?|tcp|udp)://[A-Za-z0-9.\-\[\]:*]+:\d{1,5}$")


def load_project(root: Path) -> Project:
    """Read `root/wasmforge.toml` into a Project, or raise ManifestError."""
    root = root.resolve()
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            f"no {MANIFEST_NAME} here", where=str(root),
            fix="run `wasmforge new NAME --lang LANG` or build from a project directory",
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        bad = err.object[err.start]
        raise ManifestError(f"is not UTF-8 text (byte {err.start} is 0x{bad:02x})",
                            where=str(path), fix="save it as UTF-8 TOML") from None
    except OSError as err:
        raise ManifestError(f"cannot be read ({err.strerror or err})", where=str(path)) from None
    return parse_manifest(text, path)


def parse_manifest(text: str, path: Path) -> Project:
    import tomllib  # only a build reads wasmforge.toml; `run` never does

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"is not valid TOML ({err})", where=str(path),
                            fix="fix the syntax at the line shown") from None
    except RecursionError:
        raise ManifestError("nests arrays or tables too deeply to be a manifest",
                            where=str(path), fix="flatten it") from None
    reader = _Reader(path, text)
    reader.table(data, "", {"project", "build", "capabilities"})
    if "project" not in data:
        raise ManifestError("has no [project] table", where=str(path),
                            fix="add [project] with name, version and language")
    project = _project_table(reader, data)
    build = _build_table(reader, data.get("build", {}))
    caps = _capabilities_table(reader, data.get("capabilities", {}))
    return Project(root=path.parent, build=build, capabilities=caps, **project)


def _project_table(reader: _Reader, data: Mapping[str, Any]) -> dict[str, Any]:
    table = reader.get(data, "", "project", dict, kind_name="a table")
    reader.table(table, "project", {"name", "version", "language", "world", "description"})
    name = reader.get(table, "project", "name", str)
    if not NAME_RE.match(name):
        raise reader.fail("project.name", f"is {name!r}, which is not allowed", NAME_RULE)
    language = reader.get(table, "project", "language", str)
    if language not in LANGUAGES:
        raise reader.fail("project.language", f"is {language!r}",
                          f"use one of: {', '.join(LANGUAGES)}")
    world = reader.get(table, "project", "world", str, "command")
    if world not in WORLDS:
        raise reader.fail("project.world", f"is {world!r}", f"use one of: {', '.join(WORLDS)}")
    version = reader.get(table, "project", "version", str)
    return {"name": name, "version": version, "language": language, "world": world}


def _build_table(reader: _Reader, table: Any) -> BuildConfig:
    if not isinstance(table, dict):
        raise reader.fail("build", "must be a table")
    reader.table(table, "build",
                 {"include_dirs", "defines", "cflags", "deny_ungranted", "precompile"})
    return BuildConfig(
        include_dirs=reader.strings(table, "build", "include_dirs"),
        defines=reader.strings(table, "build", "defines"),
        cflags=reader.strings(table, "build", "cflags"),
        deny_ungranted=reader.get(table, "build", "deny_ungranted", bool, False),
        precompile=reader.get(table, "build", "precompile", bool, False),
    )


def _capabilities_table(reader: _Reader, table: Any) -> Capabilities:
    if not isinstance(table, dict):
        raise reader.fail("capabilities", "must be a table")
    t = "capabilities"
    reader.table(table, t, {"args", "stdio", "env", "mounts", "network", "clocks", "random",
                            "isolation", "tools", "limits"})
    env = reader.strings(table, t, "env")
    for name in env:
        if not _ENV_NAME_RE.match(name):
            raise reader.fail("capabilities.env", f"holds {name!r}, which is not a variable name")
    network = reader.strings(table, t, "network")
    for entry in network:
        if not _NETWORK_RE.match(entry):
            raise reader.fail("capabilities.network", f"holds {entry!r}",
                              "write each entry as scheme://host:port, e.g. "
                              "\"https://api.example.com:443\"")
    isolation = reader.get(table, t, "isolation", str, WEAKEST)
    if not is_tier(isolation):
        raise reader.fail("capabilities.isolation", f"is {isolation!r}",
                          f"use {tier_list()}")
    tools = reader.strings(table, t, "tools")
    for tool in tools:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", tool):
            raise reader.fail("capabilities.tools", f"holds {tool!r}, which is not a tool name")
    return Capabilities(
        args=reader.get(table, t, "args", bool, True),
        stdio=reader.get(table, t, "stdio", bool, True),
        env=env,
        mounts=_mounts(reader, table),
        network=network,
        clocks=reader.get(table, t, "clocks", bool, True),
        random=reader.get(table, t, "random", bool, True),
        isolation=isolation,
        tools=tools,
        limits=_limits(reader, table.get("limits", {})),
    )


def _mounts(reader: _Reader, table: Mapping[str, Any]) -> tuple[Mount, ...]:
    raw = reader.get(table, "capabilities", "mounts", list, [], "a list of tables")
    mounts: list[Mount] = []
    for item in raw:
        key = "capabilities.mounts"
        if not isinstance(item, dict):
            raise reader.fail(key, f"holds {item!r}", "write { guest = \"/data\", mode = \"ro\" }")
        reader.table(item, key, {"guest", "mode"})
        guest = reader.get(item, key, "guest", str)
        if not guest.startswith("/") or ".." in guest.split("/"):
            raise reader.fail(key, f"has guest path {guest!r}",
                              "use an absolute path without '..'")
        mode = reader.get(item, key, "mode", str, "ro")
        if mode not in ("ro", "rw"):
            raise reader.fail(key, f"has mode {mode!r}", "use \"ro\" or \"rw\"")
        if any(m.guest == guest for m in mounts):
            raise reader.fail(key, f"declares {guest!r} twice")
        mounts.append(Mount(guest=guest.rstrip("/") or "/", mode=mode))
    return tuple(mounts)


def _limits(reader: _Reader, table: Any) -> Limits:
    key = "capabilities.limits"
    if not isinstance(table, dict):
        raise reader.fail(key, "must be a table")
    reader.table(table, key, {"memory", "timeout", "fuel"})
    defaults = Limits()
    memory = defaults.memory_bytes
    if "memory" in table:
        memory = reader.convert(f"{key}.memory", table["memory"], parse_memory)
    timeout = defaults.timeout_s
    if "timeout" in table:
        timeout = reader.convert(f"{key}.timeout", table["timeout"], parse_duration)
    fuel = reader.get(table, key, "fuel", int, None)
    if fuel is not None and not 0 < fuel <= MAX_FUEL:
        raise reader.fail(f"{key}.fuel", f"must be between 1 and {MAX_FUEL}")
    return Limits(memory_bytes=memory, timeout_s=timeout, fuel=fuel)
