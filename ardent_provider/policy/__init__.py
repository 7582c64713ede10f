"""A CrossGuard policy pack for Ardent API keys: key hygiene checked at ``pulumi preview`` and ``pulumi up``.

``ardent-keys policy-pack`` prints the path to pass to ``--policy-pack`` (an executable that serves the pack
with the interpreter this package is installed in). The policies, their defaults and options are in
:mod:`ardent_provider.policy.rules`, which needs nothing beyond this package; serving them needs the
``policy`` extra (``pip install 'ardent-provider[policy]'``), which brings ``pulumi-policy``.
"""

from __future__ import annotations

from pathlib import Path

from .rules import POLICIES, RESOURCE_TYPE

POLICY_NAMES = tuple(spec.name for spec in POLICIES)

__all__ = ["POLICIES", "POLICY_NAMES", "RESOURCE_TYPE", "pack_directory"]


def pack_directory() -> Path:
    """The pack's directory, as ``python -m pulumi.policy`` takes it (its program is ``__main__.py``)."""
    return Path(__file__).resolve().parent / "pack"
