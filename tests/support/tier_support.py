"""Skipping, with the tier's own reason, where this host cannot give an isolation tier."""

from __future__ import annotations

import pytest


def require_tier(tier: str) -> str:
    """`tier`, or a skip naming why this host cannot give it."""
    from wasmforge.runtime.tiers import status

    state = status(tier)
    if not state.usable:
        pytest.skip(f"isolation tier {tier} is not usable here: {state.detail}")
    return tier
