"""`wasmforge inspect`: what an image is, what it may do and who signed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from wasmforge.errors import ImageError
from wasmforge.image import capabilities as capability_manifest
from wasmforge.image import keys as keyring
from wasmforge.image import provenance, trust
from wasmforge.image.layout import (
    BUILDER,
    CAPABILITIES_MEDIA_TYPE,
    CREATED,
    LANGUAGE,
    TITLE,
    WORLD,
)
from wasmforge.image.model import HYPERLIGHT_AOT_MEDIA_TYPE
from wasmforge.image.reader import open_image
from wasmforge.image.signing import signatures_of


def describe(image: Path) -> dict[str, Any]:
    """A JSON-able description of the image; signatures are checked against the trust store."""
    parsed = open_image(Path(image))
    annotations = parsed.annotations
    component = parsed.config.get("component") or {}
    caps = capability_manifest.from_json(parsed.layer_bytes(CAPABILITIES_MEDIA_TYPE))
    trusted, why = trust.keys_for(parsed.name)

    signatures = []
    for sig in signatures_of(parsed):
        verified_by = next((k.fingerprint for k in trusted if sig.signature and sig.covers_image
                            and keyring.verifies(k.key, sig.signature, sig.payload)), None)
        signatures.append({"signer": verified_by or sig.claimed_signer or "unknown",
                           "verified": verified_by is not None,
                           "covers_image": sig.covers_image})

    info: dict[str, Any] = {
        "image": str(image),
        "name": parsed.name,
        "version": parsed.version,
        "digest": parsed.digest,
        "language": annotations.get(LANGUAGE, ""),
        "world": annotations.get(WORLD, ""),
        "created": annotations.get(CREATED, parsed.config.get("created", "")),
        "builder": annotations.get(BUILDER, ""),
        "target": component.get("target", ""),
        "imports": list(parsed.wit.imports),
        "exports": list(parsed.wit.exports),
        "capabilities": capability_manifest.to_dict(caps),
        "config": _layer_info(parsed.manifest["config"]),
        "layers": [_layer_info(d) for d in parsed.manifest["layers"]],
        "hyperlight": _hyperlight(parsed.manifest["layers"]),
        "signatures": signatures,
        "trust": why,
        "provenance": _provenance(parsed, trusted),
    }
    return info


def _hyperlight(layers: list[dict[str, Any]]) -> str:
    """'wasmtime 36.0.14 for x86_64-unknown-none (hyperlight-sandbox-backend-wasm 0.8.0)'
    when the image carries Hyperlight code (build --hyperlight), else ''."""
    for desc in layers:
        if desc.get("mediaType") == HYPERLIGHT_AOT_MEDIA_TYPE:
            notes = desc.get("annotations") or {}
            prefix = "org.wasmforge.hyperlight."
            return (f"wasmtime {notes.get(prefix + 'wasmtime', '?')} for "
                    f"{notes.get(prefix + 'target', '?')} ({notes.get(prefix + 'backend', '?')})")
    return ""


def _layer_info(desc: dict[str, Any]) -> dict[str, Any]:
    notes = desc.get("annotations") or {}
    return {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"],
            "title": notes.get(TITLE, "")}


def _provenance(parsed: Any, trusted: list[trust.TrustedKey]) -> dict[str, Any] | None:
    if parsed.attestations is None:
        return None
    layer = parsed.attestations["layers"][0] if parsed.attestations["layers"] else None
    if layer is None:
        return None
    data = parsed.layout.blobs[layer["digest"]]
    try:
        statement = provenance.decode_statement(data)
        signed_by = provenance.verified_signers(data, trusted)
    except ImageError as err:
        return {"error": str(err)}
    predicate = statement.get("predicate") or {} if isinstance(statement, dict) else {}
    definition = predicate.get("buildDefinition") or {}
    return {
        "predicateType": statement.get("predicateType", ""),
        "toolchains": (definition.get("internalParameters") or {}).get("toolchains", {}),
        "sources": len(definition.get("resolvedDependencies") or []),
        "builder": ((predicate.get("runDetails") or {}).get("builder") or {}).get("id", ""),
        "signed_by": signed_by,
    }


def _size(size: int) -> str:
    for unit, factor in (("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def render(info: dict[str, Any]) -> list[RenderableType]:
    """Rich renderables for the CLI: summary, WIT, capabilities, layers, signatures."""
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(overflow="fold")
    for label, key in (("name", "name"), ("version", "version"), ("digest", "digest"),
                       ("language", "language"), ("world", "world"), ("target", "target"),
                       ("created", "created"), ("builder", "builder")):
        summary.add_row(label, str(info.get(key, "")))
    if info.get("hyperlight"):
        summary.add_row("hyperlight", info["hyperlight"])
    summary.add_row("imports", "\n".join(info["imports"]) or "(none)")
    summary.add_row("exports", "\n".join(info["exports"]) or "(none)")

    caps_table = Table(title="capabilities", title_justify="left")
    caps_table.add_column("capability")
    caps_table.add_column("granted", overflow="fold")
    for key, value in info["capabilities"].items():
        if key == "schemaVersion":
            continue
        caps_table.add_row(key, _cap_text(value))

    layers = Table(title="layers", title_justify="left")
    for column in ("media type", "size", "digest", "title"):
        layers.add_column(column, overflow="fold")
    for layer in [info["config"], *info["layers"]]:
        layers.add_row(layer["mediaType"], _size(layer["size"]), layer["digest"][:19],
                       layer["title"])

    signatures = Table(title=f"signatures (checked against {info['trust']})",
                       title_justify="left")
    signatures.add_column("signer", overflow="fold")
    signatures.add_column("verifies")
    for sig in info["signatures"]:
        verdict = "[green]yes[/]" if sig["verified"] else "[red]no (untrusted or invalid)[/]"
        signatures.add_row(sig["signer"], verdict)
    if not info["signatures"]:
        signatures.add_row("(unsigned)", "[red]no[/]")

    result: list[RenderableType] = [summary, caps_table, layers, signatures]
    prov = info.get("provenance")
    if prov and "error" not in prov:
        text = Table.grid(padding=(0, 2))
        text.add_column(style="bold")
        text.add_column(overflow="fold")
        text.add_row("provenance", prov["predicateType"])
        text.add_row("toolchains", ", ".join(f"{k} {v}" for k, v in prov["toolchains"].items())
                     or "(none recorded)")
        text.add_row("sources", str(prov["sources"]))
        text.add_row("signed by", ", ".join(prov["signed_by"]) or "no trusted key")
        result.append(text)
    return result


def _cap_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if not value:
            return "(none)"
        return ", ".join(f"{v['guest']} ({v['mode']})" if isinstance(v, dict) else str(v)
                         for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)


__all__ = ["describe", "render"]
