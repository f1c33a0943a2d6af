"""Data shared by the parts that write images (toolchain) and read them (runtime)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmforge.project import Capabilities

# Media types of wasmforge's own (the CNCF wasm artifact types are in layout.py).
CAPABILITIES_MEDIA_TYPE = "application/vnd.wasmforge.capabilities.v1+json"
PRECOMPILED_MEDIA_TYPE = "application/vnd.wasmforge.precompiled.wasmtime.v1"
HYPERLIGHT_COMPONENT_MEDIA_TYPE = "application/vnd.wasmforge.hyperlight.component.v1+wasm"
HYPERLIGHT_AOT_MEDIA_TYPE = "application/vnd.wasmforge.hyperlight.aot.v1"


@dataclass(frozen=True)
class Layer:
    """An extra blob in an image, beside the component and the capabilities."""

    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WitSummary:
    """The component's world as seen from outside: fully qualified interface names."""

    imports: tuple[str, ...]
    exports: tuple[str, ...]


@dataclass(frozen=True)
class ProvenanceInputs:
    """What went into a build, for the in-toto/SLSA provenance statement."""

    sources: dict[str, str]  # path relative to the project -> "sha256:<hex>"
    toolchains: dict[str, str]  # tool -> pinned version
    wasmforge_version: str
    build_started: int  # SOURCE_DATE_EPOCH-aware, seconds
    build_finished: int


@dataclass(frozen=True)
class LoadedImage:
    """A verified image, as the runtime consumes it (see image.reader.load_image)."""

    name: str
    version: str
    language: str
    digest: str  # the manifest digest, "sha256:<hex>"
    component: bytes  # the component to run (composed with deny stubs when built so)
    capabilities: Capabilities
    wit: WitSummary
    layers: tuple[Layer, ...]  # every layer other than the component and capabilities
    signers: tuple[str, ...]  # fingerprints of trusted keys whose signature verified

    def layer(self, media_type: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == media_type), None)
