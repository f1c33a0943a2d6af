"""Project templates: `_common/` for every language, then `<language>/` on top; a world
other than `command` (`http`) adds `_common/<world>/` and takes `<language>/<world>/`
instead of the language's command files.

Files ending in `.j2` are rendered with jinja2 (the suffix is dropped); others are
copied as they are.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

import jinja2

from wasmforge.errors import WasmforgeError
from wasmforge.languages import get_driver
from wasmforge.project import LANGUAGES, NAME_RE, NAME_RULE, WORLDS

_TEMPLATES = resources.files(__package__)


def scaffold(name: str, language: str, dest: Path, world: str = "command") -> list[Path]:
    """Render a new project into `dest` (created; must be absent or empty)."""
    if not NAME_RE.match(name):
        raise WasmforgeError(f"{name!r} is not a valid project name", fix=NAME_RULE)
    if language not in LANGUAGES:
        raise WasmforgeError(f"unknown language {language!r}",
                             fix=f"use one of: {', '.join(LANGUAGES)}")
    if world not in WORLDS:
        raise WasmforgeError(f"unknown world {world!r}", fix=f"use one of: {', '.join(WORLDS)}")
    if world != "command" and not (_TEMPLATES / language / world).is_dir():
        offered = sorted(lang for lang in LANGUAGES if (_TEMPLATES / lang / world).is_dir())
        raise WasmforgeError(f"there is no {world} template for {language}",
                             fix=f"use --world command, or one of: {', '.join(offered)}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise WasmforgeError(f"{dest} already exists and is not empty",
                             fix="choose a new name or --dir, or empty that directory")
    variables = {"name": name, "language": language, "world": world,
                 "snake_name": name.replace("-", "_")}
    variables.update(get_driver(language).template_vars(name))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    # Render into a sibling temp dir and rename, so a failure leaves nothing behind.
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        for layer in _layers(language, world):
            _render_tree(_TEMPLATES / layer, staging, env, variables, skip=WORLDS)
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())


def _layers(language: str, world: str) -> tuple[str, ...]:
    """The command world's files sit in the language's folder; another world's in its own
    subfolder (`<language>/http/`), over `_common/` and `_common/<world>/`."""
    if world == "command":
        return ("_common", language)
    return ("_common", f"_common/{world}", f"{language}/{world}")


def _render_tree(src, out: Path, env: jinja2.Environment, variables: dict[str, str],
                 skip: tuple[str, ...] = ()) -> None:
    if not src.is_dir():
        return
    for entry in src.iterdir():
        if entry.name in ("__pycache__", "__init__.py"):
            continue
        if entry.is_dir():
            if entry.name in skip:  # another world's layer, not a project folder
                continue
            (out / entry.name).mkdir(exist_ok=True)
            _render_tree(entry, out / entry.name, env, variables)
        elif entry.name.endswith(".j2"):
            text = env.from_string(entry.read_text(encoding="utf-8")).render(variables)
            (out / _target_name(entry.name[:-3])).write_text(text, encoding="utf-8")
        else:
            (out / _target_name(entry.name)).write_bytes(entry.read_bytes())


def _target_name(name: str) -> str:
    # Dotfiles are stored without their dot so that packaging keeps them.
    return "." + name if name in ("gitignore", "dockerignore") else name
