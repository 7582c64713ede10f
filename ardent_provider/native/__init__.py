"""The native ``ardent`` provider plugin: ``ardent:index:ApiKey`` for programs in every Pulumi language.

:mod:`.schema` builds the package schema from :mod:`ardent_provider.state` and :mod:`ardent_provider.settings`;
:mod:`.values` translates Pulumi's property values; :mod:`.engine_watch` ends the plugin with its engine;
:mod:`.plugin` serves the provider (the
``pulumi-resource-ardent`` executable) on the same :class:`~ardent_provider.provider_steps.ProviderSteps` as the
dynamic ``ArdentApiKey``. Importing this package imports nothing of Pulumi.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata

NATIVE_MIN_SDK_VERSION = "3.260.0"
"""The first pulumi SDK the plugin is tested on: 3.171 brought the provider server it is built on
(``pulumi.provider.experimental``), and up to 3.259 that server hands the engine a provider bug's error without
its stack. The support matrix's ``bounds`` session runs the plugin and its tests on this version."""


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _sdk_too_old() -> str | None:
    """What is wrong with the installed pulumi SDK for the plugin; None when it will do (or says no version)."""
    try:
        installed = metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        return None  # the import of the plugin then names what is missing
    if _release(installed) < _release(NATIVE_MIN_SDK_VERSION):
        return f"pulumi {installed} is installed"
    return None


def main() -> None:
    """The ``pulumi-resource-ardent`` executable: serve the plugin, or say which pulumi SDK it needs."""
    problem = _sdk_too_old()
    if problem is None:
        try:
            from .plugin import main as serve
        except ImportError as error:
            problem = str(error)
    if problem is not None:
        sys.exit(
            f"pulumi-resource-ardent needs the pulumi Python SDK {NATIVE_MIN_SDK_VERSION} or newer beside "
            f"ardent-provider ({problem}); run `pip install 'pulumi>={NATIVE_MIN_SDK_VERSION},<4'` in the "
            "environment that provides pulumi-resource-ardent."
        )
    from .engine_watch import watch_engine

    watch_engine(os.getppid())
    serve()
