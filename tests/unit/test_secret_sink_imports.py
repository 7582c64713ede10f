"""boto3 is the ``aws`` extra: imported only by the sink module, only when a key has a sink."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from ardent_provider.errors import ArdentConfigurationError
from ardent_provider.secret_sink import SecretsManagerSink, SinkError, boto3_client, sink_region, version_id_for
from ardent_provider.state import SinkSpec

PACKAGE = Path(__file__).resolve().parents[2] / "ardent_provider"


def test_only_the_sink_module_imports_the_aws_sdk_and_only_inside_functions() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if not any(name.split(".")[0] in {"boto3", "botocore"} for name in names):
                continue
            assert path.name == "secret_sink.py", path
            assert node.col_offset > 0, f"{path.name}: a module-level import of the AWS SDK"


def test_without_boto3_a_sink_says_to_install_the_aws_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ArdentConfigurationError, match=r"ardent-provider\[aws\]") as raised:
        boto3_client(SinkSpec(secret_id="apps/x"))
    assert "'apps/x'" in str(raised.value)


def test_a_client_that_cannot_be_made_is_a_sink_error_naming_the_secret() -> None:
    def refuse(_spec: SinkSpec) -> object:
        raise ArdentConfigurationError("no client here")

    sink = SecretsManagerSink(SinkSpec(secret_id="apps/x", region="eu-west-1"), refuse)
    with pytest.raises(ArdentConfigurationError, match="no client here"):
        sink.write("sk-ard_x", key_id="key_1", org_id="org_1")
    assert sink.describe() == "AWS Secrets Manager secret 'apps/x' in eu-west-1"


def test_a_keys_version_id_is_stable_and_differs_between_keys_and_orgs() -> None:
    first = version_id_for("org_1", "key_1")
    assert first == version_id_for("org_1", "key_1") and len(first) == 36
    assert len({first, version_id_for("org_1", "key_2"), version_id_for("org_2", "key_1")}) == 3


def test_the_sinks_region_is_its_own_then_an_arns_then_aws_region_then_boto3s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    arn = "arn:aws:secretsmanager:ap-south-1:123456789012:secret:apps/x-AbCdEf"
    assert sink_region(SinkSpec(secret_id="apps/x", region="us-west-1"), "us-east-1") == "us-west-1"
    assert sink_region(SinkSpec(secret_id=arn), "us-east-1") == "ap-south-1"
    assert sink_region(SinkSpec(secret_id="apps/x"), "us-east-1") == "eu-west-2"
    monkeypatch.delenv("AWS_REGION")
    assert sink_region(SinkSpec(secret_id="apps/x"), "us-east-1") == "us-east-1"
    with pytest.raises(ArdentConfigurationError, match=r"'apps/x'.*no AWS region.*AWS_REGION"):
        sink_region(SinkSpec(secret_id="apps/x"), None)


class QuotesItsParameters:
    """A client whose own parameter check quotes the value it refused, as botocore's ParamValidationError does."""

    def describe_secret(self, **_kwargs: object) -> None:
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, "DescribeSecret")

    def create_secret(self, **kwargs: object) -> None:
        raise ParamValidationError(report=f"Invalid value for parameter SecretString, value: {kwargs['SecretString']}")


def test_an_aws_error_that_quotes_the_token_reaches_the_message_without_it() -> None:
    token = "sk-ard_quoted0123456789"
    sink = SecretsManagerSink(SinkSpec(secret_id="apps/x"), lambda _spec: QuotesItsParameters())
    with pytest.raises(SinkError) as raised:
        sink.write(token, key_id="key_1", org_id="org_1")
    assert token not in raised.value.report() and "'apps/x'" in raised.value.report()
    assert "SecretString, value: [token]" in raised.value.report()


def test_the_docs_iam_policy_names_exactly_the_secrets_manager_calls_the_sink_makes() -> None:
    source = (PACKAGE / "secret_sink.py").read_text()
    called = {
        "".join(part.title() for part in name.split("_")) for name in re.findall(r"\.client\.([a-z_]+)\(", source)
    }
    page = (PACKAGE.parent / "docs" / "keeping-tokens-out-of-the-stack.md").read_text()
    policy = json.loads(page.split("```json", 1)[1].split("```", 1)[0])
    granted = {action.removeprefix("secretsmanager:") for action in policy["Statement"][0]["Action"]}
    assert called and called == granted
