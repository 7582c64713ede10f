"""The ``sink`` input against moto's Secrets Manager on a socket: the sink module, then every lifecycle branch.

The emulator is the Ardent side; no Pulumi CLI. The AWS client is boto3's, reached over HTTP with dummy
credentials from the environment.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.errors import ArdentConfigurationError
from ardent_provider.lifecycle import KeyLifecycle
from ardent_provider.provider_steps import ProviderSteps
from ardent_provider.secret_sink import (
    CREATED_BY_TAG,
    KEY_ID_TAG,
    ORG_ID_TAG,
    SecretsManagerSink,
    SinkError,
    SinkPool,
    boto3_client,
    version_id_for,
)
from ardent_provider.state import ACTIVE, SINK_MISMATCH, SINK_MISSING, KeySpec, KeyState, SinkSpec
from ardent_provider.validation import validate_inputs

from ..conftest import FAST_RETRY, token_authenticates
from ..secrets_store import SecretsStore, aws_env, free_port, secrets_store

__all__ = ["aws_env", "secrets_store"]  # fixtures


@dataclass
class World:
    emulator: EmulatorServer
    owner: ArdentClient
    lifecycle: KeyLifecycle
    store: SecretsStore
    warnings: list[str] = field(default_factory=list)

    def sink(self, secret_id: str | None = None, **options: Any) -> SinkSpec:
        return SinkSpec(secret_id=secret_id or self.store.name(), endpoint_url=self.store.endpoint, **options)

    def active(self) -> set[str]:
        return {key.id for key in self.owner.list_keys(self.emulator.org_id) if key.name != "emulator-bootstrap-owner"}

    def works(self, token: str | None) -> bool:
        return token_authenticates(self.owner, self.emulator.org_id, token)

    def provider_steps(self) -> ProviderSteps:
        """The provider's steps configured for the emulator's org, as a stack's settings configure them."""
        settings = {
            "ardent:apiUrl": self.emulator.url,
            "ardent:orgId": self.emulator.org_id,
            "ardent:token": self.emulator.token,
        }
        return ProviderSteps(settings, self.warnings.append)


@pytest.fixture
def world(emulator: EmulatorServer, secrets_store: SecretsStore, aws_env: dict[str, str]) -> Iterator[World]:
    owner = ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY)
    client = ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY)
    warnings: list[str] = []
    lifecycle = KeyLifecycle(client, emulator.org_id, warn=warnings.append, sleep=lambda _s: None)
    yield World(emulator, owner, lifecycle, secrets_store, warnings)
    owner.close()
    client.close()


def spec(name: str = "svc", **options: Any) -> KeySpec:
    return KeySpec(name=name, role="role_org_member", resource_name=name, **options)


def assert_no_token(state: KeyState, token: str) -> None:
    outputs = state.to_outputs()
    assert outputs["token"] is None and outputs["previous_token"] is None
    assert token not in repr(outputs) and token not in repr(state)


# -- the sink module -------------------------------------------------------------------------------


def test_a_write_creates_the_secret_tagged_and_a_second_write_moves_the_first_to_awsprevious(
    secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    name = secrets_store.name()
    sink = SecretsManagerSink(SinkSpec(secret_id=name, endpoint_url=secrets_store.endpoint))
    first = sink.write("sk-ard_first", key_id="key_1", org_id="org_a")
    assert first.version_id == version_id_for("org_a", "key_1")
    assert first.secret_arn == secrets_store.describe(name)["ARN"]
    assert secrets_store.current(name) == "sk-ard_first"
    tags = {tag["Key"]: tag["Value"] for tag in secrets_store.describe(name)["Tags"]}
    assert tags[KEY_ID_TAG] == "key_1" and tags[ORG_ID_TAG] == "org_a" and CREATED_BY_TAG in tags
    assert sink.check(first.version_id) is None

    second = sink.write("sk-ard_second", key_id="key_2", org_id="org_a")
    assert secrets_store.current(name) == "sk-ard_second"
    assert secrets_store.staged(name, "AWSPREVIOUS") == "sk-ard_first"
    assert sink.check(second.version_id) is None
    assert sink.check(first.version_id) == SINK_MISMATCH
    tags = {tag["Key"]: tag["Value"] for tag in secrets_store.describe(name)["Tags"]}
    assert tags[KEY_ID_TAG] == "key_2"
    # The same key's write again is the same version (a retry after a lost answer), not a new one.
    assert sink.write("sk-ard_second", key_id="key_2", org_id="org_a").version_id == second.version_id


def test_check_says_missing_for_a_deleted_secret_and_mismatch_for_one_overwritten_by_hand(
    secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    name = secrets_store.name()
    sink = SecretsManagerSink(SinkSpec(secret_id=name, endpoint_url=secrets_store.endpoint))
    written = sink.write("sk-ard_one", key_id="key_1", org_id="org_a")
    secrets_store.client.put_secret_value(SecretId=name, SecretString="typed by hand")
    assert sink.check(written.version_id) == SINK_MISMATCH
    secrets_store.client.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert sink.check(written.version_id) == SINK_MISSING
    assert (
        SecretsManagerSink(SinkSpec(secret_id=secrets_store.name(), endpoint_url=secrets_store.endpoint)).check(None)
        == SINK_MISSING
    )


def test_release_deletes_a_created_secret_with_its_recovery_window_and_restores_a_pre_existing_one(
    secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    created = secrets_store.name()
    sink = SecretsManagerSink(SinkSpec(secret_id=created, endpoint_url=secrets_store.endpoint, recovery_window_days=9))
    sink.write("sk-ard_one", key_id="key_1", org_id="org_a")
    done = sink.release("key_1", "org_a")
    assert secrets_store.describe(created).get("DeletedDate") is not None
    restorable_until = datetime.fromisoformat(done.rsplit("until ", 1)[1])
    assert timedelta(days=8) < restorable_until - datetime.now(UTC) <= timedelta(days=9)

    existing = secrets_store.name()
    secrets_store.client.create_secret(Name=existing, SecretString="the team's value")
    sink = SecretsManagerSink(SinkSpec(secret_id=existing, endpoint_url=secrets_store.endpoint))
    sink.write("sk-ard_one", key_id="key_1", org_id="org_a")
    sink.write("sk-ard_two", key_id="key_2", org_id="org_a")
    assert "current again" in sink.release("key_2", "org_a", ["key_1"])
    assert secrets_store.current(existing) == "the team's value"
    assert secrets_store.describe(existing).get("DeletedDate") is None


def test_release_leaves_a_secret_that_holds_another_writers_token(
    secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    name = secrets_store.name()
    sink = SecretsManagerSink(SinkSpec(secret_id=name, endpoint_url=secrets_store.endpoint))
    sink.write("sk-ard_one", key_id="key_1", org_id="org_a")
    sink.write("sk-ard_two", key_id="key_2", org_id="org_a")  # the replacement
    assert "left as it is" in sink.release("key_1", "org_a")
    assert secrets_store.current(name) == "sk-ard_two"
    assert secrets_store.describe(name).get("DeletedDate") is None


def test_an_unreachable_endpoint_is_a_sink_error_naming_the_secret_and_never_the_token(aws_env: dict[str, str]) -> None:
    sink = SecretsManagerSink(SinkSpec(secret_id="ardent/unreachable", endpoint_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(SinkError) as raised:
        sink.write("sk-ard_never_shown", key_id="key_1", org_id="org_a")
    message = str(raised.value)
    assert "'ardent/unreachable'" in message and "EndpointConnectionError" in message
    assert "sk-ard_never_shown" not in message


def test_the_sink_input_is_checked_and_normalised_in_either_spelling() -> None:
    base = {"name": "svc", "role": "Member"}
    inputs, problems = validate_inputs({**base, "sink": {"awsSecretsManager": {"secretId": "app/x", "region": None}}})
    assert problems == [] and inputs["sink"] == {"aws_secrets_manager": {"secret_id": "app/x"}}
    for bad, words in [
        ({"vault": {}}, "aws_secrets_manager"),
        ({"aws_secrets_manager": {}}, "secret_id"),
        ({"aws_secrets_manager": {"secret_id": "x", "colour": 1}}, "colour"),
        ({"aws_secrets_manager": {"secret_id": "x", "endpoint_url": "ftp://x"}}, "endpoint_url"),
        ({"aws_secrets_manager": {"secret_id": "x", "recovery_window_days": 3}}, "7 to 30"),
        (
            {
                "aws_secrets_manager": {
                    "secret_id": "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf",
                    "region": "eu-west-1",
                }
            },
            "'us-east-1'",
        ),
    ]:
        _, problems = validate_inputs({**base, "sink": bad})
        assert [prop for prop, _ in problems] == ["sink"] and words in problems[0][1], (bad, problems)


# -- the lifecycle ---------------------------------------------------------------------------------


def test_create_writes_the_token_to_the_sink_and_publishes_only_its_fingerprint_arn_and_version(world: World) -> None:
    key_spec = spec(sink=world.sink())
    state = world.lifecycle.create(key_spec)
    assert key_spec.sink is not None
    token = world.store.current(key_spec.sink.secret_id)
    assert world.works(token) and state.key_id in world.active()
    assert state.token is None
    outputs = state.to_outputs()
    assert outputs["token_fingerprint"] is not None and outputs["sink_version_id"] == version_id_for(
        world.emulator.org_id, state.key_id
    )
    assert outputs["sink_secret_arn"] == world.store.describe(key_spec.sink.secret_id)["ARN"]
    assert outputs["sink"] == {
        "aws_secrets_manager": {"secret_id": key_spec.sink.secret_id, "endpoint_url": world.store.endpoint}
    }
    assert_no_token(state, token)
    # The state as the engine records it reads back the same, with no token anywhere.
    recorded = KeyState.from_outputs(state.key_id, outputs)
    assert recorded.fingerprint == state.fingerprint and recorded.spec.sink == key_spec.sink


def test_a_failed_write_revokes_the_new_key_and_names_the_secret(world: World) -> None:
    down = SinkSpec(secret_id="ardent/down", endpoint_url=f"http://127.0.0.1:{free_port()}")
    before = world.active()
    with pytest.raises(SinkError) as raised:
        world.lifecycle.create(spec(sink=down))
    assert world.active() == before
    report = raised.value.report()
    assert "'ardent/down'" in report and "was revoked" in report


class LosesTagging:
    """A Secrets Manager client whose TagResource fails after PutSecretValue landed: a write that half happened."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def tag_resource(self, **_kwargs: Any) -> None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed to tag"}}, "TagResource"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_write_that_landed_before_failing_leaves_the_previous_token_current_and_the_new_key_revoked(
    world: World,
) -> None:
    key_spec = spec(sink=world.sink(), rotation_triggers={"n": 1})
    assert key_spec.sink is not None
    old = world.lifecycle.create(key_spec)
    old_token = world.store.current(key_spec.sink.secret_id)
    client = ArdentClient(world.emulator.token, api_url=world.emulator.url, retry=FAST_RETRY)
    failing = KeyLifecycle(
        client,
        world.emulator.org_id,
        warn=world.warnings.append,
        sleep=lambda _s: None,
        sinks=SinkPool(lambda sink_spec: LosesTagging(boto3_client(sink_spec))),
    )
    news = {**key_spec.to_inputs(), "rotation_triggers": {"n": 2}}
    failing.plan(old, news)
    before = world.active()
    with pytest.raises(SinkError) as raised:
        failing.create(KeySpec.from_inputs(news))
    client.close()
    report = raised.value.report()
    assert "AccessDeniedException: not allowed to tag" in report and "is current again" in report
    assert world.active() == before and world.store.current(key_spec.sink.secret_id) == old_token
    assert world.works(old_token) and old_token not in report


def test_rotation_makes_the_new_token_current_and_keeps_the_old_one_as_awsprevious_for_the_grace_period(
    world: World,
) -> None:
    key_spec = spec(sink=world.sink(), keep_previous_for_days=2, rotation_triggers={"n": 1})
    assert key_spec.sink is not None
    old = world.lifecycle.create(key_spec)
    old_token = world.store.current(key_spec.sink.secret_id)
    news = {**key_spec.to_inputs(), "rotation_triggers": {"n": 2}}
    plan = world.lifecycle.plan(old, news)
    assert plan.replaces == ("rotation_triggers",)
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    world.lifecycle.delete(old)  # the engine's delete of the replaced resource: kept for the grace period
    new_token = world.store.current(key_spec.sink.secret_id)
    assert new_token != old_token and world.works(new_token) and world.works(old_token)
    assert world.store.staged(key_spec.sink.secret_id, "AWSPREVIOUS") == old_token
    assert new.previous_key_id == old.key_id and new.to_outputs()["previous_token"] is None
    assert world.store.describe(key_spec.sink.secret_id).get("DeletedDate") is None


def test_rotation_without_a_grace_period_revokes_the_old_key_and_leaves_the_secret_to_the_new_one(world: World) -> None:
    key_spec = spec(sink=world.sink(), rotation_triggers={"n": 1})
    assert key_spec.sink is not None
    old = world.lifecycle.create(key_spec)
    old_token = world.store.current(key_spec.sink.secret_id)
    news = {**key_spec.to_inputs(), "rotation_triggers": {"n": 2}}
    world.lifecycle.plan(old, news)
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    world.lifecycle.delete(old)
    assert not world.works(old_token) and world.works(world.store.current(key_spec.sink.secret_id))
    assert world.lifecycle.refresh(new) is not None
    assert world.store.describe(key_spec.sink.secret_id).get("DeletedDate") is None


def test_refresh_marks_an_overwritten_secret_and_the_next_up_replaces_the_key_and_heals_it(world: World) -> None:
    key_spec = spec(sink=world.sink())
    assert key_spec.sink is not None
    state = world.lifecycle.create(key_spec)
    world.store.client.put_secret_value(SecretId=key_spec.sink.secret_id, SecretString="typed by hand")
    refreshed = world.lifecycle.refresh(state)
    assert refreshed is not None and refreshed.status == SINK_MISMATCH
    assert refreshed.sink_version_id == state.sink_version_id and refreshed.fingerprint == state.fingerprint
    assert any("overwritten outside Pulumi" in warning for warning in world.warnings)
    plan = world.lifecycle.plan(refreshed, key_spec.to_inputs())
    assert plan.replaces == ("token",)
    new = world.lifecycle.create(key_spec)
    world.lifecycle.delete(refreshed)
    assert world.works(world.store.current(key_spec.sink.secret_id))
    assert state.key_id not in world.active() and new.key_id in world.active()
    healed = world.lifecycle.refresh(new)
    assert healed is not None and healed.status == ACTIVE


def test_refresh_marks_a_deleted_secret_missing(world: World) -> None:
    key_spec = spec(sink=world.sink())
    assert key_spec.sink is not None
    state = world.lifecycle.create(key_spec)
    world.store.client.delete_secret(SecretId=key_spec.sink.secret_id, ForceDeleteWithoutRecovery=True)
    refreshed = world.lifecycle.refresh(state)
    assert refreshed is not None and refreshed.status == SINK_MISSING
    assert world.lifecycle.plan(refreshed, key_spec.to_inputs()).replaces == ("token",)


def test_destroy_revokes_the_key_and_deletes_the_secret_it_created(world: World) -> None:
    key_spec = spec(sink=world.sink())
    assert key_spec.sink is not None
    state = world.lifecycle.create(key_spec)
    world.lifecycle.delete(state)
    assert state.key_id not in world.active()
    assert world.store.describe(key_spec.sink.secret_id).get("DeletedDate") is not None


def test_destroy_leaves_a_pre_existing_secret_with_its_own_value_current(world: World) -> None:
    name = world.store.name()
    world.store.client.create_secret(Name=name, SecretString="before")
    state = world.lifecycle.create(spec(sink=world.sink(name)))
    assert world.works(world.store.current(name))
    world.lifecycle.delete(state)
    assert world.store.current(name) == "before"
    assert world.store.describe(name).get("DeletedDate") is None


def test_adding_a_sink_writes_the_held_token_without_a_new_key_and_removing_it_replaces_the_key(world: World) -> None:
    plain = world.lifecycle.create(spec())
    assert plain.token is not None
    sink = world.sink()
    news = {**spec(sink=sink).to_inputs()}
    plan = world.lifecycle.plan(plain, news)
    assert plan.replaces == () and "sink" in plan.updates
    moved = world.lifecycle.update(plain, KeySpec.from_inputs(news))
    assert moved.key_id == plain.key_id and world.store.current(sink.secret_id) == plain.token
    assert_no_token(moved, plain.token)
    assert moved.to_outputs()["token_fingerprint"] == plain.to_outputs()["token_fingerprint"]

    plan = world.lifecycle.plan(moved, spec().to_inputs())
    assert plan.replaces == ("sink",)


def test_state_without_a_sink_reads_and_plans_as_before(world: World) -> None:
    state = world.lifecycle.create(spec())
    outputs = state.to_outputs()
    legacy = {name: value for name, value in outputs.items() if not name.startswith("sink")}
    recorded = KeyState.from_outputs(state.key_id, legacy)
    assert recorded.spec.sink is None and recorded.token == state.token
    plan = world.lifecycle.plan(recorded, {**spec().to_inputs(), "sink": None})
    assert not plan.changes
    refreshed = world.lifecycle.refresh(recorded)
    assert refreshed is not None and replace(refreshed, created_at=None).token == state.token


def create_requests(emulator: EmulatorServer) -> int:
    counts: dict[str, int] = httpx.get(f"{emulator.url}/_emulator/stats").json()["requests"]
    return counts.get("POST /v1/orgs/{org_id}/api-keys", 0)


def test_a_sink_with_no_region_fails_at_check_and_create_without_making_a_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    sink = SinkSpec(secret_id="apps/no-region", endpoint_url=world.store.endpoint)
    steps = world.provider_steps()
    _inputs, failures = steps.check({**spec(sink=sink).to_inputs(), "role": "Member"})
    assert [prop for prop, _reason in failures] == ["sink"] and "AWS_REGION" in failures[0][1]
    before = create_requests(world.emulator)
    with pytest.raises(ArdentConfigurationError, match="no AWS region") as raised:
        world.lifecycle.create(spec(sink=sink))
    assert create_requests(world.emulator) == before and "revoked" not in raised.value.report()


def test_aws_region_alone_gives_the_sinks_region(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    state = world.lifecycle.create(spec(sink=world.sink()))
    assert state.sink_secret_arn is not None and state.sink_secret_arn.split(":")[3] == "eu-west-2"


def test_a_delete_before_replace_leaves_the_secret_to_the_replacement_that_writes_it_next(world: World) -> None:
    key_spec = spec(sink=world.sink(), rotation_triggers={"n": 1})
    assert key_spec.sink is not None
    old = world.lifecycle.create(key_spec)
    old_token = world.store.current(key_spec.sink.secret_id)
    news = {**key_spec.to_inputs(), "rotation_triggers": {"n": 2}}
    world.lifecycle.plan(old, news)
    world.lifecycle.delete(old)  # deleteBeforeReplace: the engine deletes the old key first
    assert world.store.describe(key_spec.sink.secret_id).get("DeletedDate") is None
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    assert not world.works(old_token) and world.works(world.store.current(key_spec.sink.secret_id))
    assert new.sink_version_id == version_id_for(world.emulator.org_id, new.key_id)


def test_aws_debug_logging_never_shows_the_token(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="botocore")
    key_spec = spec(sink=world.sink())
    assert key_spec.sink is not None
    world.lifecycle.create(key_spec)
    logged = caplog.text
    token = world.store.current(key_spec.sink.secret_id)
    assert "SecretString" in logged and "CreateSecret" in logged
    assert token not in logged and token not in caplog.text


def test_an_arn_of_a_secret_that_does_not_exist_is_a_clear_error_and_leaves_no_key(world: World) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:apps/none-AbCdEf"
    before = world.active()
    with pytest.raises(SinkError, match="An ARN names a secret that exists") as raised:
        world.lifecycle.create(spec(sink=world.sink(arn)))
    assert world.active() == before and "was revoked" in raised.value.report()


def test_an_arn_of_an_existing_secret_is_written_refreshed_and_released(world: World) -> None:
    name = world.store.name()
    arn = world.store.client.create_secret(Name=name, SecretString="before")["ARN"]
    state = world.lifecycle.create(spec(sink=world.sink(arn)))
    assert state.sink_secret_arn == arn and world.works(world.store.current(name))
    refreshed = world.lifecycle.refresh(state)
    assert refreshed is not None and refreshed.status == ACTIVE
    world.lifecycle.delete(state)
    assert world.store.current(name) == "before"


def test_a_sink_added_during_a_grace_period_holds_the_kept_keys_token_as_awsprevious(world: World) -> None:
    old = world.lifecycle.create(spec(keep_previous_for_days=2, rotation_triggers={"n": 1}))
    news = {**old.spec.to_inputs(), "rotation_triggers": {"n": 2}}
    world.lifecycle.plan(old, news)
    rotated = world.lifecycle.create(KeySpec.from_inputs(news))
    world.lifecycle.delete(old)
    assert rotated.previous_key_id == old.key_id and rotated.previous_token == old.token
    sink = world.sink()
    moved = world.lifecycle.update(rotated, KeySpec.from_inputs({**news, "sink": sink.to_input()}))
    assert moved.previous_key_id == old.key_id and moved.to_outputs()["previous_token"] is None
    assert world.store.current(sink.secret_id) == rotated.token
    assert world.store.staged(sink.secret_id, "AWSPREVIOUS") == old.token and world.works(old.token)


def test_the_same_secret_named_by_its_arn_or_with_its_region_written_out_is_no_new_key(world: World) -> None:
    key_spec = spec(sink=world.sink())
    assert key_spec.sink is not None
    state = world.lifecycle.create(key_spec)
    assert state.sink_secret_arn is not None
    for same in (
        replace(key_spec.sink, region="us-east-1"),  # the region the environment gave
        replace(key_spec.sink, secret_id=state.sink_secret_arn),
    ):
        plan = world.lifecycle.plan(state, spec(sink=same).to_inputs())
        assert plan.replaces == () and plan.updates == ("sink",), same
    other_region = replace(key_spec.sink, region="eu-west-1")
    assert world.lifecycle.plan(state, spec(sink=other_region).to_inputs()).replaces == ("sink",)
    other_name = replace(key_spec.sink, secret_id=world.store.name())
    assert world.lifecycle.plan(state, spec(sink=other_name).to_inputs()).replaces == ("sink",)


class FailsOddly:
    """A Secrets Manager client whose write fails with no AWS error at all, its message quoting what it was given."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def put_secret_value(self, **kwargs: Any) -> None:
        raise RuntimeError(f"unexpected failure writing {kwargs['SecretString']}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_write_failing_with_no_aws_error_still_revokes_the_new_key_and_hides_the_token(world: World) -> None:
    name = world.store.name()
    world.store.client.create_secret(Name=name, SecretString="before")
    client = ArdentClient(world.emulator.token, api_url=world.emulator.url, retry=FAST_RETRY)
    failing = KeyLifecycle(
        client,
        world.emulator.org_id,
        sleep=lambda _s: None,
        sinks=SinkPool(lambda sink_spec: FailsOddly(boto3_client(sink_spec))),
    )
    before = world.active()
    with pytest.raises(SinkError, match="RuntimeError: unexpected failure writing \\[token\\]") as raised:
        failing.create(spec(sink=world.sink(name)))
    client.close()
    assert world.active() == before and "was revoked" in raised.value.report()
    assert world.store.current(name) == "before"


def test_without_the_aws_extra_a_sink_fails_at_check_naming_it_and_create_makes_no_key(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    sink = SinkSpec(secret_id="apps/no-boto3", region="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    steps = world.provider_steps()
    _inputs, failures = steps.check({**spec(sink=sink).to_inputs(), "role": "Member"})
    assert [prop for prop, _reason in failures] == ["sink"]
    assert "pip install 'ardent-provider[aws]'" in failures[0][1]
    before = create_requests(world.emulator)
    with pytest.raises(ArdentConfigurationError, match=r"ardent-provider\[aws\]"):
        world.lifecycle.create(spec(sink=sink))
    assert create_requests(world.emulator) == before


class DatesVersions:
    """A client whose listed versions are dated by when it wrote them, as AWS dates them (moto dates all as now)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._written: list[str] = []

    def put_secret_value(self, **kwargs: Any) -> Any:
        self._written.append(kwargs["ClientRequestToken"])
        return self._inner.put_secret_value(**kwargs)

    def list_secret_version_ids(self, **kwargs: Any) -> Any:
        listed = self._inner.list_secret_version_ids(**kwargs)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for version in listed["Versions"]:
            order = self._written.index(version["VersionId"]) + 1 if version["VersionId"] in self._written else 0
            version["CreatedDate"] = start + timedelta(minutes=order)
        return listed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_destroy_after_rotations_restores_the_pre_existing_value_not_an_earlier_keys_revoked_token(
    world: World,
) -> None:
    name = world.store.name()
    world.store.client.create_secret(Name=name, SecretString="before")
    client = ArdentClient(world.emulator.token, api_url=world.emulator.url, retry=FAST_RETRY)
    lifecycle = KeyLifecycle(
        client,
        world.emulator.org_id,
        sleep=lambda _s: None,
        sinks=SinkPool(lambda sink_spec: DatesVersions(boto3_client(sink_spec))),
    )
    key_spec = spec(sink=world.sink(name), rotation_triggers={"n": 1})
    first = lifecycle.create(key_spec)
    news = {**key_spec.to_inputs(), "rotation_triggers": {"n": 2}}
    lifecycle.plan(first, news)
    second = lifecycle.create(KeySpec.from_inputs(news))
    lifecycle.delete(first)
    assert second.previous_key_id is None and second.pending_revoke_key_ids == ()
    lifecycle.delete(second)
    client.close()
    assert world.store.current(name) == "before"
