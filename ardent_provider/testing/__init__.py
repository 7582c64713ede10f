"""A testing kit for programs that declare Ardent keys: the emulator as a fixture, and stacks on it.

With pytest, installing the package is enough: its ``pytest11`` entry point registers this module as a
plugin, which provides the fixtures ``ardent_emulator`` (one emulator process per session, reset for each
test) and ``ardent_stack`` (a factory of stacks configured against it, destroyed and checked for leftover
keys at teardown). Without pytest::

    from ardent_provider.testing import ArdentEmulator

    with ArdentEmulator() as api:
        ...  # api.api_url, api.org_id, api.token, api.advance_clock(days=91), api.active_keys(), ...

:class:`StackFactory` (what ``ardent_stack`` is) works the same way outside pytest.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import ArdentEmulator, EmulatorError
    from .factory import StackFactory
    from .pulumi_bin import PulumiNotFoundError, find_pulumi
    from .stack import ArdentStack

# pytest finds fixtures among a plugin module's attributes; without pytest the kit still imports.
if importlib.util.find_spec("pytest") is not None:
    from .plugin import _ardent_emulator_process, ardent_emulator, ardent_stack  # noqa: F401

# Loaded on first use: pytest imports this module at startup in every run, most of which never use the kit.
_LAZY = MappingProxyType(
    {
        "ArdentEmulator": ".emulator",
        "EmulatorError": ".emulator",
        "ArdentStack": ".stack",
        "StackFactory": ".factory",
        "PulumiNotFoundError": ".pulumi_bin",
        "find_pulumi": ".pulumi_bin",
    }
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ArdentEmulator", "ArdentStack", "EmulatorError", "PulumiNotFoundError", "StackFactory", "find_pulumi"]
