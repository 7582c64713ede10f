"""The ``ardent`` package schema, built from the one place that names each property (:mod:`..state`).

``python -m ardent_provider.native.schema`` prints it; ``scripts/gen-sdk`` generates the SDKs in ``sdk/`` from
it, and the plugin answers ``GetSchema`` with it. Property names are camelCase as Pulumi's schemas want them;
descriptions come from ``INPUT_DOCS``, ``OUTPUT_DOCS`` and ``SETTING_DOCS``, with property names in them
spelt the schema's way.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from .. import __version__
from ..distribution import go_module_path, plugin_download_url, repository_url
from ..resource_types import NATIVE_KEY_TYPE, NATIVE_PACKAGE
from ..settings import ORG_ENTRY_DOCS, ORG_ENTRY_KEYS, SETTING_DOCS, SETTING_KEYS
from ..state import (
    ALWAYS_SET_OUTPUTS,
    CAMEL_NAMES,
    INPUT_DOCS,
    INPUT_NAMES,
    OUTPUT_DOCS,
    PROPERTY_KINDS,
    PROPERTY_NAMES,
    SECRET_OUTPUTS,
    SINK_FIELD_DOCS,
    SINK_FIELDS,
    TEXT_NAMES,
    camel_case,
)

ORG_CREDENTIALS_TYPE: Final = f"{NATIVE_PACKAGE}:index:OrgCredentials"
SINK_TYPE: Final = f"{NATIVE_PACKAGE}:index:ApiKeySink"
AWS_SECRETS_MANAGER_SINK_TYPE: Final = f"{NATIVE_PACKAGE}:index:AwsSecretsManagerSink"
SECRET_SETTINGS: Final = frozenset({"token", "orgs"})
"""Settings that hold tokens: ``orgs`` holds each org's."""
PYTHON_PACKAGE: Final = "pulumi_ardent"
NODEJS_PACKAGE: Final = "pulumi-ardent"

_TYPES: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "string": {"type": "string"},
        "integer": {"type": "integer"},
        "string list": {"type": "array", "items": {"type": "string"}},
        "map": {"type": "object", "additionalProperties": {"$ref": "pulumi.json#/Any"}},
        "sink": {"$ref": f"#/types/{SINK_TYPE}"},
    }
)
_SNAKE_NAME: Final = re.compile(
    r"\b(" + "|".join(sorted((n for n in TEXT_NAMES if "_" in n), key=len, reverse=True)) + r")\b"
)


def schema_text(text: str) -> str:
    """A description with this package's property names spelt the schema's way (``expiresInDays``)."""
    return _SNAKE_NAME.sub(lambda match: TEXT_NAMES[match.group(1)], text)


def _property(name: str, description: str, *, secret: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        **json.loads(json.dumps(_TYPES[PROPERTY_KINDS[name]])),
        "description": schema_text(description),
    }
    if secret:
        spec["secret"] = True
    return spec


def _setting(key: str) -> dict[str, Any]:
    name = key.split(":", 1)[1]
    if name == "orgs":
        spec: dict[str, Any] = {"type": "object", "additionalProperties": {"$ref": f"#/types/{ORG_CREDENTIALS_TYPE}"}}
    else:
        spec = {"type": "string"}
    spec["description"] = SETTING_DOCS[key]
    if name in SECRET_SETTINGS:
        spec["secret"] = True
    return spec


def _sink_types() -> dict[str, Any]:
    """The object types of the ``sink`` input: one kind of sink, and its fields."""
    fields = {
        camel_case(name): {
            "type": "integer" if name == "recovery_window_days" else "string",
            "description": schema_text(SINK_FIELD_DOCS[name]),
        }
        for name in SINK_FIELDS
    }
    return {
        SINK_TYPE: {
            "type": "object",
            "description": "Where a key's token is kept instead of the stack.",
            "properties": {
                "awsSecretsManager": {
                    "$ref": f"#/types/{AWS_SECRETS_MANAGER_SINK_TYPE}",
                    "description": "An AWS Secrets Manager secret whose SecretString is the token.",
                }
            },
            "required": ["awsSecretsManager"],
        },
        AWS_SECRETS_MANAGER_SINK_TYPE: {
            "type": "object",
            "description": "An AWS Secrets Manager secret; AWS credentials come from AWS's own chain.",
            "properties": fields,
            "required": ["secretId"],
        },
    }


def package_schema() -> dict[str, Any]:
    """The whole package schema as a JSON-ready dict."""
    settings = {key.split(":", 1)[1]: _setting(key) for key in SETTING_KEYS}
    docs = {**OUTPUT_DOCS, **INPUT_DOCS}
    inputs = {
        CAMEL_NAMES[name]: _property(name, INPUT_DOCS[name], secret=name in SECRET_OUTPUTS) for name in INPUT_NAMES
    }
    outputs = {
        CAMEL_NAMES[name]: _property(name, OUTPUT_DOCS.get(name, docs[name]), secret=name in SECRET_OUTPUTS)
        for name in PROPERTY_NAMES
    }
    org_credentials = {
        "type": "object",
        "description": "The credentials of one org in orgs.",
        "properties": {
            key: {
                "type": "string",
                "description": ORG_ENTRY_DOCS[key],
                **({"secret": True} if key in SECRET_SETTINGS else {}),
            }
            for key in ORG_ENTRY_KEYS
        },
    }
    return {
        "name": NATIVE_PACKAGE,
        "displayName": "Ardent",
        "version": __version__,
        "description": "Ardent API keys as Pulumi resources: the token is a secret output, rotation keeps the old key "
        "for a grace period, and a key is never revoked unless it is provably the stack's.",
        "keywords": ["pulumi", "ardent", "api-keys", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "ardent-provider",
        "repository": repository_url(),
        "pluginDownloadURL": plugin_download_url(),
        "config": {"variables": settings},
        "provider": {
            "description": "The Ardent provider. Give one explicitly (token, orgId, apiUrl, orgs) to reach another "
            "org than the stack's configuration; every setting falls back to its environment variable.",
            "inputProperties": settings,
        },
        "types": {ORG_CREDENTIALS_TYPE: org_credentials, **_sink_types()},
        "resources": {
            NATIVE_KEY_TYPE: {
                "description": "An Ardent API key. A change of a key input creates a new key before the old one is "
                "revoked; token is always a secret and exists only from the key's creation.",
                "inputProperties": inputs,
                "properties": outputs,
                "required": [CAMEL_NAMES[name] for name in ALWAYS_SET_OUTPUTS],
            }
        },
        # Each SDK's lowest pulumi, run by the support matrix's bounds sessions (docs/development.md): 3.269 is the
        # first with the exists call every generated resource makes (the Go SDK needs v3.274.0, which
        # scripts/sdkgen writes into its go.mod); the Java SDK compiles and runs on com.pulumi:pulumi 1.0.0.
        "language": {
            "python": {
                "packageName": PYTHON_PACKAGE,
                "respectSchemaVersion": True,
                "pyproject": {"enabled": True},
                "requires": {"pulumi": ">=3.269.0,<4.0.0"},
            },
            "nodejs": {
                "packageName": NODEJS_PACKAGE,
                "respectSchemaVersion": True,
                "dependencies": {"@pulumi/pulumi": "^3.269.0"},
            },
            "java": {"dependencies": {"com.pulumi:pulumi": "1.0.0"}},
            "go": {
                "importBasePath": f"{go_module_path()}/go/{NATIVE_PACKAGE}",
                "respectSchemaVersion": True,
                "generateResourceContainerTypes": False,
            },
        },
    }


def schema_json() -> str:
    """The schema as the plugin serves it and ``scripts/gen-sdk`` reads it: sorted keys, two-space indents."""
    return json.dumps(package_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Print the schema."""
    sys.stdout.write(schema_json())


if __name__ == "__main__":
    main()
