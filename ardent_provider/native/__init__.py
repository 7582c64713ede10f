"""The native ``ardent`` provider plugin: ``ardent:index:ApiKey`` for programs in every Pulumi language.

:mod:`.schema` builds the package schema from :mod:`ardent_provider.state` and :mod:`ardent_provider.settings`;
:mod:`.values` translates Pulumi's property values; :mod:`.engine_watch` ends the plugin with its engine;
:mod:`.plugin` serves the provider (the
``pulumi-resource-ardent`` executable) on the same :class:`~ardent_provider.provider_steps.ProviderSteps` as the
dynamic ``ArdentApiKey``. Importing this package imports nothing of Pulumi.
"""

from __future__ import annotations

import os
import sys

NATIVE_MIN_SDK_VERSION = "3.172.0"
"""The first pulumi SDK with the provider server (``pulumi.provider.experimental``) that the plugin is built on."""


def main() -> None:
    """The ``pulumi-resource-ardent`` executable: serve the plugin, or say which pulumi SDK it needs."""
    try:
        from .plugin import main as serve
    except ImportError as error:
        sys.exit(
            f"pulumi-resource-ardent needs the pulumi Python SDK {NATIVE_MIN_SDK_VERSION} or newer beside "
            f"ardent-provider ({error}); run `pip install 'pulumi>={NATIVE_MIN_SDK_VERSION},<4'` in the "
            "environment that provides pulumi-resource-ardent."
        )
    from .engine_watch import watch_engine

    watch_engine(os.getppid())
    serve()
