"""The ``ardent`` package schema says what state.py and settings.py say, in Pulumi's naming."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from ardent_provider import __version__
from ardent_provider.native.schema import ORG_CREDENTIALS_TYPE, package_schema, schema_json, schema_text
from ardent_provider.resource_types import NATIVE_KEY_TYPE
from ardent_provider.settings import ORG_ENTRY_KEYS, SETTING_DOCS, SETTING_KEYS
from ardent_provider.state import (
    ALWAYS_SET_OUTPUTS,
    CAMEL_NAMES,
    INPUT_DOCS,
    INPUT_NAMES,
    OUTPUT_DOCS,
    OUTPUT_NAMES,
    PROPERTY_KINDS,
    PROPERTY_NAMES,
    SECRET_OUTPUTS,
    camel_case,
    snake_properties,
)

KEY = package_schema()["resources"][NATIVE_KEY_TYPE]


def test_names_are_camel_cased_and_read_back() -> None:
    assert camel_case("expires_in_days") == "expiresInDays" and camel_case("token") == "token"
    assert CAMEL_NAMES["pending_revoke_key_ids"] == "pendingRevokeKeyIds"
    assert snake_properties({"keyId": "k", "key_prefix": "p", "other": 1}) == {
        "key_id": "k",
        "key_prefix": "p",
        "other": 1,
    }
    assert set(PROPERTY_KINDS) == set(PROPERTY_NAMES) == set(INPUT_NAMES) | set(OUTPUT_NAMES)


def test_every_input_and_output_of_state_py_is_in_the_schema_with_its_description_and_kind() -> None:
    assert list(KEY["inputProperties"]) == [CAMEL_NAMES[name] for name in INPUT_NAMES]
    assert set(KEY["properties"]) == {CAMEL_NAMES[name] for name in PROPERTY_NAMES}
    for name in PROPERTY_NAMES:
        described = KEY["properties"][CAMEL_NAMES[name]]
        assert described["description"] == schema_text(OUTPUT_DOCS.get(name) or INPUT_DOCS[name])
        if PROPERTY_KINDS[name] == "sink":
            assert described["$ref"] == "#/types/ardent:index:ApiKeySink"
            continue
        expected_type = {"string list": "array", "map": "object"}.get(PROPERTY_KINDS[name], PROPERTY_KINDS[name])
        assert described["type"] == expected_type
    for name in INPUT_NAMES:
        assert KEY["inputProperties"][CAMEL_NAMES[name]]["description"] == schema_text(INPUT_DOCS[name])
    # An imported key's generated code has no role (Ardent lists none), so the schema requires none; the provider
    # still refuses a new key without one.
    assert "requiredInputs" not in KEY
    assert set(KEY["required"]) == {CAMEL_NAMES[name] for name in ALWAYS_SET_OUTPUTS}


def test_descriptions_name_properties_the_schemas_way() -> None:
    text = json.dumps(KEY)
    snake = [name for name in CAMEL_NAMES if "_" in name and re.search(rf"\b{name}\b", text)]
    assert snake == []
    assert "less than expiresInDays" in KEY["inputProperties"]["rotateBeforeDays"]["description"]


def test_tokens_are_secret_in_inputs_outputs_and_the_provider_configuration() -> None:
    secret_outputs = {name for name, spec in KEY["properties"].items() if spec.get("secret")}
    assert secret_outputs == {CAMEL_NAMES[name] for name in SECRET_OUTPUTS}
    assert [name for name, spec in KEY["inputProperties"].items() if spec.get("secret")] == ["adoptToken"]
    schema = package_schema()
    for settings in (schema["config"]["variables"], schema["provider"]["inputProperties"]):
        assert list(settings) == [key.split(":", 1)[1] for key in SETTING_KEYS]
        assert [name for name, spec in settings.items() if spec.get("secret")] == ["token", "orgs"]
        assert settings["orgId"]["description"] == SETTING_DOCS["ardent:orgId"]
    entry = schema["types"][ORG_CREDENTIALS_TYPE]["properties"]
    assert list(entry) == list(ORG_ENTRY_KEYS) and entry["token"]["secret"] is True


def test_the_schema_carries_the_package_version_and_prints_as_served() -> None:
    assert package_schema()["version"] == __version__
    printed = subprocess.run(
        [sys.executable, "-m", "ardent_provider.native.schema"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == schema_json() and json.loads(printed) == package_schema()


def test_messages_are_reworded_with_every_multi_word_property_name_a_native_program_declares() -> None:
    from ardent_provider.state import CAMEL_NAMES, camel_case_names_in

    for name, camel in CAMEL_NAMES.items():
        assert camel_case_names_in(f"Set {name}, then run `pulumi up`.") == f"Set {camel}, then run `pulumi up`."
    # Only whole names: a longer word, a config key or a dotted path keeps its spelling.
    untouched = "my_expires_in_days_value, ardent:orgs.x.token and key.expires_in_days"
    assert camel_case_names_in(untouched) == untouched


def test_the_sink_is_an_object_type_whose_fields_are_camel_cased_and_whose_secret_id_is_required() -> None:
    types = package_schema()["types"]
    sink = types["ardent:index:ApiKeySink"]
    assert sink["properties"]["awsSecretsManager"]["$ref"] == "#/types/ardent:index:AwsSecretsManagerSink"
    aws = types["ardent:index:AwsSecretsManagerSink"]
    assert set(aws["properties"]) == {"secretId", "region", "endpointUrl", "recoveryWindowDays"}
    assert aws["required"] == ["secretId"]
    assert aws["properties"]["recoveryWindowDays"]["type"] == "integer"
    assert {"sinkSecretArn", "sinkVersionId", "tokenFingerprint"} <= set(KEY["properties"])
