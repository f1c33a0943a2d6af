"""The `wasmforge` command: parses, calls one function of a part, renders with rich.

This is the only module that prints. Each command's body stays short: the work lives
in the parts (toolchain, image, runtime), which raise WasmforgeError for anything a
user can fix; `main` turns those into one sentence on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge import __version__
from wasmforge.errors import WasmforgeError
from wasmforge.isolation import TIER_ORDER
from wasmforge.project import LANGUAGES

if TYPE_CHECKING:
    from wasmforge.toolchain.doctor import ToolchainRow

app = typer.Typer(
    name="wasmforge",
    help=f"Build programs in {', '.join(LANGUAGES)} into signed, capability-scoped "
         "WebAssembly images and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
toolchain_app = typer.Typer(help="Install and inspect the pinned language toolchains.",
                            no_args_is_help=True)
app.add_typer(toolchain_app, name="toolchain")

class _LazyConsole:
    """A rich Console made on first use: importing rich costs `wasmforge run` 25 ms, and
    a run that goes well prints only the guest's output and one plain notice."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


def Table(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 (stands in for rich's class)
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


out = _LazyConsole(highlight=False, soft_wrap=True)
err = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def _notice(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"wasmforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """wasmforge: scaffold, build, sign, push and run WebAssembly components."""


# ------------------------------------------------------------------ new / build


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Project name (lowercase letters, digits, '-').")],
    lang: Annotated[str, typer.Option("--lang", "-l",
                                      help=" | ".join(LANGUAGES))],
    world: Annotated[str, typer.Option(help="The WIT world the project targets.")] = "command",
    dir: Annotated[Path | None, typer.Option("--dir", help="Where to create it (default ./NAME).")
                   ] = None,
) -> None:
    """Create a new project from the language's template."""
    from wasmforge.templates import scaffold

    dest = (dir or Path(name)).resolve()
    files = scaffold(name, lang, dest, world)
    err.print(f"Created [bold]{name}[/] ({lang}, world {world}) in {dest}")
    for file in files:
        err.print(f"  {file}")
    err.print(f"Next: cd {dest} && wasmforge build")


@app.command()
def build(
    dir: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help="Sign the image with KEY.")
                        ] = None,
    hyperlight: Annotated[bool, typer.Option("--hyperlight",
                                             help="Add the Hyperlight executor and AOT code.")
                          ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON result.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Compile the project to a wasm32-wasip2 component and package it as an OCI image."""
    from wasmforge.toolchain.build import build_project

    with _Progress(enabled=not json_out) as progress:
        result = build_project(dir, sign_key=sign_key, hyperlight=hyperlight,
                               progress=progress.step, verbose=verbose,
                               notice=lambda m: _notice(f"warning: {m}"))
    if json_out:
        _print_json(result.to_json())
        return
    state = "up to date (cached)" if result.cached else f"built in {result.seconds:.2f} s"
    err.print(f"[green]✓[/] {result.name}: {state}")
    err.print(f"  component  {result.component}  ({result.component_size:,} bytes)")
    err.print(f"  image      {result.image}")
    err.print(f"  digest     {result.digest}")
    if result.signed:
        err.print("  signed     yes")


class _Progress:
    """A rich status line for build steps; silent under --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self._status = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._status = err.status("building…")
            self._status.__enter__()
        return self

    def step(self, message: str) -> None:
        if self._status is not None:
            self._status.update(message)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


# ------------------------------------------------------------------ toolchains


@toolchain_app.command("install")
def toolchain_install(
    langs: Annotated[list[str] | None, typer.Argument(
        help=f"Languages: {', '.join(LANGUAGES)}, hyperlight (default: all).")] = None,
) -> None:
    """Install the pinned toolchains (PyPI/npm into the cache; Debian packages as root)."""
    from wasmforge.toolchain.install import install_toolchains

    for line in install_toolchains(langs or []):
        err.print(line)


@app.command()
def doctor(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show, per language and isolation tier, what is usable here and how to fix the rest."""
    from dataclasses import asdict

    from wasmforge.runtime.tiers import tier_report
    from wasmforge.toolchain.doctor import (
        diagnose_hyperlight_build,
        diagnose_languages,
        diagnose_serve_host,
    )

    languages, tier_rows = diagnose_languages(), tier_report()
    packaging = [diagnose_hyperlight_build(), diagnose_serve_host()]
    if json_out:
        _print_json({"languages": [row.to_json("language") for row in languages],
                     "tiers": [asdict(row) for row in tier_rows],
                     "packaging": [row.to_json("what") for row in packaging]})
        return
    out.print(_toolchain_table("languages", "language", languages))
    tiers = Table(title="isolation tiers")
    for column in ("tier", "usable", "detail"):
        tiers.add_column(column)
    for tier in tier_rows:
        tiers.add_row(tier.tier, _yes_no(tier.usable), tier.detail)
    out.print(tiers)
    out.print(_toolchain_table("packaging", "what", packaging))


def _yes_no(usable: object) -> str:
    return "[green]yes[/]" if usable else "[red]no[/]"


def _toolchain_table(title: str, first: str, rows: list[ToolchainRow]) -> Any:
    """Doctor's rows for languages or packaging; `first` heads the name column."""
    table = Table(title=title)
    for column in (first, "usable", "versions", "remedy"):
        table.add_column(column)
    for row in rows:
        versions = ", ".join(f"{k} {v}" for k, v in row.versions.items())
        remedy = "" if row.usable else "; ".join(
            part for part in (row.problem, row.remedy) if part)
        table.add_row(row.name, _yes_no(row.usable), versions, remedy)
    return table


# ------------------------------------------------------------------ keys and images


@app.command()
def keygen(
    out_prefix: Annotated[Path, typer.Option("--out", help="Writes PREFIX.key and PREFIX.pub.")
                          ] = Path("wasmforge"),
    passphrase: Annotated[bool, typer.Option("--passphrase",
                                             help="Encrypt the private key (prompts).")] = False,
) -> None:
    """Create an ECDSA P-256 signing key pair and trust its public key locally."""
    from wasmforge.image.keys import generate_keypair

    secret = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True) \
        if passphrase else None
    pair = generate_keypair(out_prefix, secret)
    err.print(f"Private key {pair.private} (keep it secret)")
    err.print(f"Public key  {pair.public} (added to the trust store)")
    err.print(f"Fingerprint {pair.fingerprint}")


@app.command()
def sign(
    image: Annotated[Path, typer.Argument(help="An .oci.tar image.")],
    key: Annotated[Path, typer.Option("--key", help="Private key (PEM).")],
    reference: Annotated[str | None, typer.Option(
        "--reference", help="The repository the signature names, e.g. "
                            "registry.example.com/team/hello (default: the image's name).")
                         ] = None,
) -> None:
    """Sign an image's manifest digest (cosign simple signing)."""
    from wasmforge.image.signing import sign_image

    digest = sign_image(image, key, _passphrase(key), reference=reference)
    err.print(f"[green]✓[/] signed {image} ({digest})")


def _passphrase(key: Path) -> str | None:
    """$WASMFORGE_KEY_PASSPHRASE, else a prompt when the key is encrypted and a terminal is
    there to ask."""
    import os

    from wasmforge.image.keys import PASSPHRASE_ENV, is_encrypted

    secret = os.environ.get(PASSPHRASE_ENV)
    if secret is None and is_encrypted(key) and sys.stdin.isatty():
        secret = typer.prompt(f"Passphrase for {key}", hide_input=True)
    return secret


@app.command()
def verify(
    image: Annotated[Path, typer.Argument(help="An .oci.tar image.")],
    key: Annotated[list[Path] | None, typer.Option("--key", help="Trusted public key(s).")
                   ] = None,
) -> None:
    """Check an image's signature, manifest and every blob digest."""
    from wasmforge.image.verify import verify_image

    report = verify_image(image, key or [])
    err.print(f"[green]✓[/] {image}: {report.summary()}")


@app.command()
def inspect(
    image: Annotated[Path, typer.Argument(help="An .oci.tar image.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show an image's name, digest, WIT, capabilities, layers and signatures."""
    from wasmforge.image.inspect import describe, render

    info = describe(image)
    if json_out:
        _print_json(info)
    else:
        for renderable in render(info):
            out.print(renderable)


@app.command()
def push(
    image: Annotated[Path, typer.Argument(help="An .oci.tar image.")],
    ref: Annotated[str, typer.Argument(help="registry/repository:tag")],
    sign_key: Annotated[Path | None, typer.Option(
        "--sign-key", help="Sign for this repository before pushing (the file is unchanged).")
                        ] = None,
) -> None:
    """Push an image, its signature and provenance to an OCI registry."""
    from wasmforge.image.registry import push_image

    digest = push_image(image, ref, sign_key=sign_key,
                        passphrase=_passphrase(sign_key) if sign_key else None)
    err.print(f"[green]✓[/] pushed {ref}@{digest}")


@app.command()
def pull(
    ref: Annotated[str, typer.Argument(help="registry/repository:tag or @sha256:…")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the image.")
                      ] = None,
) -> None:
    """Pull an image (with its signature and provenance), verifying digests as it reads."""
    from wasmforge.image.registry import pull_image

    path = pull_image(ref, output)
    err.print(f"[green]✓[/] pulled {ref} -> {path}")


# ------------------------------------------------------------------ run / bench


@app.command()
def run(
    image: Annotated[str, typer.Argument(help="An .oci.tar image or a registry reference.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the guest.")] = None,
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="Trusted public key(s).")
                     ] = None,
    isolation: Annotated[str, typer.Option(help=" | ".join(("auto", *reversed(TIER_ORDER))))
                         ] = "auto",
    mount: Annotated[list[str] | None, typer.Option("--mount", help="HOST:GUEST[:ro]")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="K=V")] = None,
    timeout: Annotated[float | None, typer.Option(help="Wall-time cap in seconds.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory cap, e.g. 32MiB.")] = None,
    fuel: Annotated[int | None, typer.Option(help="Instruction fuel cap.")] = None,
    insecure_allow_unsigned: Annotated[bool, typer.Option("--insecure-allow-unsigned")] = False,
    tool: Annotated[list[str] | None, typer.Option(
        "--tool", help="Host function NAME=module:function (NAME alone: entry point "
                       "in group wasmforge.tools); only names the manifest declares.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Verify an image and run it with only what its manifest grants."""
    from wasmforge.isolation import requested
    from wasmforge.runtime.run import RunRequest, run_image

    request = RunRequest(
        image=image, args=tuple(args or ()), trust=tuple(trust or ()),
        isolation=requested(isolation),
        mounts=tuple(mount or ()), env=tuple(env or ()), timeout_s=timeout, memory=memory,
        fuel=fuel, allow_unsigned=insecure_allow_unsigned, verbose=verbose,
        tools=tuple(tool or ()),
    )
    code = run_image(request, notice=_notice)
    raise typer.Exit(code)


@app.command()
def serve(
    image: Annotated[str, typer.Argument(help="A world = \"http\" image or a reference.")],
    listen: Annotated[str, typer.Option(help="IP:PORT to listen on.")] = "127.0.0.1:8080",
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="Trusted public key(s).")
                     ] = None,
    isolation: Annotated[str, typer.Option(help="auto | wasm | process | hypervisor")] = "auto",
    mount: Annotated[list[str] | None, typer.Option("--mount", help="HOST:GUEST[:ro]")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="K=V")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per-request wall-time cap, s.")] = None,
    memory: Annotated[str | None, typer.Option(help="Per-request memory cap, e.g. 32MiB.")
                      ] = None,
    max_concurrency: Annotated[int, typer.Option(help="Requests handled at once.")] = 8,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log requests as JSON lines.")
                        ] = False,
    insecure_allow_unsigned: Annotated[bool, typer.Option("--insecure-allow-unsigned")] = False,
) -> None:
    """Serve an HTTP handler (wasi:http/proxy), a fresh instance per request."""
    from wasmforge.runtime.serve import ServeRequest, serve_image

    request = ServeRequest(
        image=image, listen=listen, trust=tuple(trust or ()), isolation=isolation,
        mounts=tuple(mount or ()), env=tuple(env or ()), timeout_s=timeout, memory=memory,
        max_concurrency=max_concurrency, allow_unsigned=insecure_allow_unsigned,
        log_json=log_json,
    )
    raise typer.Exit(serve_image(request, notice=_notice))


@app.command()
def bench(
    image: Annotated[Path, typer.Argument(help="An .oci.tar image.")],
    runs: Annotated[int, typer.Option(help="Runs per measurement.")] = 200,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    insecure_allow_unsigned: Annotated[bool, typer.Option("--insecure-allow-unsigned")] = False,
) -> None:
    """Measure cold start (p50/p99) per tier and throughput."""
    from wasmforge.runtime.bench import bench_image

    report = bench_image(image, runs=runs, allow_unsigned=insecure_allow_unsigned)
    if json_out:
        _print_json(report.to_json())
        return
    table = Table(title=f"bench {image.name}")
    for column in ("tier", "p50 ms", "p99 ms", "first/later", "runs/s"):
        table.add_column(column)
    for row in report.tiers:
        if row.unavailable:
            table.add_row(row.tier, "-", "-", "-", row.unavailable)
            continue
        table.add_row(row.tier, f"{row.p50_ms:.3f}", f"{row.p99_ms:.3f}",
                      f"{row.first_over_later:.1f}", f"{row.runs_per_s:.0f}")
    out.print(table)


# ------------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> int:
    """Usage errors are click's (usage line, exit 2); a WasmforgeError is one sentence.

    Exits the process when called as the console script; with `argv` (tests, embedding)
    returns the exit code instead.
    """
    code = 0
    try:
        app(args=argv, prog_name="wasmforge")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except WasmforgeError as failure:
        err.print("[red]error:[/] ", end="")
        err.print(str(failure), markup=False)
        code = failure.exit_code
    except KeyboardInterrupt:
        code = 130
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
