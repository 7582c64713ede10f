"""The one place that names the Pulumi resource types of an Ardent key."""

from __future__ import annotations

from typing import Final

# ArdentApiKey is a dynamic resource registered with module "ardent" and name "ApiKey"; the Python SDK prefixes
# every dynamic type with "pulumi-python:dynamic/".
DYNAMIC_MODULE: Final = "ardent"
DYNAMIC_NAME: Final = "ApiKey"
DYNAMIC_KEY_TYPE: Final = f"pulumi-python:dynamic/{DYNAMIC_MODULE}:{DYNAMIC_NAME}"

# The native provider plugin's package and resource: `type: ardent:ApiKey` in YAML, ardent.ApiKey in the SDKs.
NATIVE_PACKAGE: Final = "ardent"
NATIVE_KEY_TYPE: Final = f"{NATIVE_PACKAGE}:index:{DYNAMIC_NAME}"

KEY_TYPES: Final = frozenset({DYNAMIC_KEY_TYPE, NATIVE_KEY_TYPE})

# The native package's provider resource: the stack's default provider and every explicit one
# (`type: pulumi:providers:ardent` in YAML, ardent.Provider in the SDKs).
NATIVE_PROVIDER_TYPE: Final = f"pulumi:providers:{NATIVE_PACKAGE}"


def is_key_type(type_token: str) -> bool:
    """Whether a resource of this type (as state and the engine write it) is an Ardent key."""
    return type_token in KEY_TYPES


def is_default_provider(name: str) -> bool:
    """Whether a provider resource of this name is one the engine made from stack config, not the program's.

    The engine names those ``default`` or ``default_<version>`` and tells them apart by the same prefix.
    """
    return name.startswith("default")
