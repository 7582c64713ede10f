"""The native plugin as the engine calls it, in-process: property maps in, responses out, the emulator behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import httpx
import pytest

# The plugin is built on the SDK's provider server, which pulumi 3.171 introduced (the support matrix goes lower);
# it needs 3.260 (NATIVE_MIN_SDK_VERSION), which the matrix's bounds session runs these tests on.
pytest.importorskip("pulumi.provider.experimental.provider", reason="the native plugin needs pulumi 3.260 or newer")

from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckRequest,
    ConfigureRequest,
    CreateRequest,
    DeleteRequest,
    DiffRequest,
    GetSchemaRequest,
    PropertyDiffKind,
    ReadRequest,
    UpdateRequest,
)
from pulumi.runtime.proto import provider_pb2

from ardent_provider import native
from ardent_provider.emulator import EmulatorServer
from ardent_provider.errors import ArdentError
from ardent_provider.native.plugin import (
    READ_BY_IMPORT_COMMAND,
    ArdentProvider,
    EngineLog,
    PlainErrorServicer,
    _engine_address,
    _identity,
    about,
)
from ardent_provider.native.plugin import _plainly as _plainly_for_test
from ardent_provider.native.schema import package_schema
from ardent_provider.native.values import UNKNOWN_ON_THE_WIRE, plain, plain_map, property_value
from ardent_provider.state import UNKNOWN

from ..secrets_store import SecretsStore, aws_env, secrets_store

__all__ = ["aws_env", "secrets_store"]  # fixtures

URN = "urn:pulumi:dev::proj::ardent:index:ApiKey::web"
CREATE = "POST /v1/orgs/{org_id}/api-keys"
T = TypeVar("T")


def run(step: Coroutine[Any, Any, T]) -> T:
    """Run one provider call on a loop of its own; asyncio.run would leave the thread without a current loop,
    which later tests (Pulumi's mocks) ask for."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(step)
    finally:
        loop.close()


class Recorder(EngineLog):
    """Keeps the warnings the plugin would send to the engine."""

    def __init__(self) -> None:
        super().__init__(None)
        self.messages: list[str] = []

    def warn(self, message: str) -> None:
        self.messages.append(message)


def props(**values: Any) -> dict[str, PropertyValue]:
    return {
        name: value if isinstance(value, PropertyValue) else property_value(value) for name, value in values.items()
    }


def configured(log: Recorder, **settings: Any) -> ArdentProvider:
    provider = ArdentProvider(log)
    run(provider.configure(ConfigureRequest({}, props(**settings), True, False)))
    return provider


@pytest.fixture
def log() -> Recorder:
    return Recorder()


@pytest.fixture
def provider(emulator: EmulatorServer, log: Recorder) -> Iterator[ArdentProvider]:
    yield configured(
        log,
        apiUrl=emulator.url,
        orgId=emulator.org_id,
        token=property_value(emulator.token, secret=True),
        version="0.1.0",
    )


def check(provider: ArdentProvider, **inputs: Any) -> tuple[dict[str, PropertyValue], list[tuple[str, str]]]:
    response = run(provider.check(CheckRequest(URN, {}, props(**inputs), b"")))
    return dict(response.inputs or {}), [(failure.property, failure.reason) for failure in response.failures or []]


def create(provider: ArdentProvider, inputs: dict[str, PropertyValue], *, preview: bool = False) -> Any:
    return run(provider.create(CreateRequest(URN, inputs, 60, preview)))


def creates(emulator: EmulatorServer) -> int:
    counts: dict[str, int] = httpx.get(f"{emulator.url}/_emulator/stats").json()["requests"]
    return counts.get(CREATE, 0)


def test_the_schema_is_served_and_names_the_key_type(provider: ArdentProvider) -> None:
    served = json.loads(run(provider.get_schema(GetSchemaRequest(0))).schema or "")
    assert served == package_schema()
    assert "ardent:index:ApiKey" in served["resources"]


def test_a_misspelt_provider_setting_is_refused_with_the_nearest_name(provider: ArdentProvider) -> None:
    response = run(provider.check_config(CheckRequest("urn", {}, props(tokn="x", orgId="org_1", version="1"), b"")))
    assert [failure.property for failure in response.failures or []] == ["tokn"]
    assert "did you mean `ardent:token`?" in (response.failures or [])[0].reason
    fine = run(provider.check_config(CheckRequest("urn", {}, props(orgId="org_1", version="1"), b"")))
    assert not fine.failures


def test_the_provider_keeps_every_token_of_its_configuration_secret(provider: ArdentProvider) -> None:
    orgs = PropertyValue({"org_2": PropertyValue({"token": property_value("sk-ard_test_x")})})
    given = props(token="sk-ard_test_y", orgId="org_1", apiUrl="https://api.example.org", orgs=orgs)
    checked = run(provider.check_config(CheckRequest("urn", {}, given, b""))).inputs or {}
    assert checked["token"].is_secret and checked["orgs"].is_secret
    assert not checked["orgId"].is_secret and not checked["apiUrl"].is_secret


def test_check_normalises_camel_case_inputs_and_keeps_secrets_secret(provider: ArdentProvider) -> None:
    inputs, failures = check(
        provider, name="web", role="Admin", expiresInDays=30.0, adoptKeyId="key_1234567890", adoptToken="sk-ard_x"
    )
    assert failures == []
    assert plain(inputs["role"]) == "role_org_admin" and plain(inputs["expiresInDays"]) == 30.0
    assert inputs["adoptToken"].is_secret and not inputs["name"].is_secret
    _, failures = check(provider, name="web", role="Admin", expiresInDays=0.0)
    assert [name for name, _ in failures] == ["expiresInDays"]
    secret_name, _ = check(provider, name=property_value("web", secret=True), role="Admin")
    assert secret_name["name"].is_secret, "an input the program made secret stays secret"


def test_an_unknown_input_passes_check_and_stays_unknown(provider: ArdentProvider) -> None:
    inputs, failures = check(provider, name=PropertyValue(Computed()), role="Admin")
    assert failures == []
    assert plain_map(inputs)["name"] is UNKNOWN
    # A whole list computed by another resource arrives as an output value holding the wire form of unknown.
    inputs, failures = check(provider, name="svc", role="Member", scopes=PropertyValue(UNKNOWN_ON_THE_WIRE))
    assert failures == [] and plain_map(inputs)["scopes"] is UNKNOWN


def test_preview_creates_nothing_and_the_whole_lifecycle_runs_on_the_shared_steps(
    provider: ArdentProvider, emulator: EmulatorServer, log: Recorder
) -> None:
    inputs, _ = check(provider, name="web", role="Member", keepPreviousForDays=1.0)
    planned = create(provider, inputs, preview=True)
    assert creates(emulator) == 0 and planned.resource_id == ""
    assert planned.properties["token"].is_secret
    created = create(provider, inputs)
    state = created.properties
    assert (
        created.resource_id.startswith("key_")
        and state["token"].is_secret
        and state["keyId"].value == created.resource_id
    )
    same = run(provider.diff(DiffRequest(URN, created.resource_id, state, inputs, [])))
    assert same.changes is False and same.replaces == []

    renamed, _ = check(provider, name="web-2", role="Member", keepPreviousForDays=1.0)
    plan = run(provider.diff(DiffRequest(URN, created.resource_id, state, renamed, [])))
    assert plan.changes and plan.replaces == ["name"]
    assert plan.detailed_diff["name"].kind == PropertyDiffKind.UPDATE_REPLACE
    replacement = create(provider, renamed)
    assert replacement.properties["previousKeyId"].value == created.resource_id, "the old key is kept for its grace"
    assert replacement.properties["previousToken"].is_secret
    run(provider.delete(DeleteRequest(URN, created.resource_id, state, 60)))
    with httpx.Client() as http:
        listed = http.get(
            f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys", headers={"Authorization": f"Bearer {emulator.token}"}
        ).json()
    active = {item["id"] for item in listed["data"]} if isinstance(listed, dict) else {item["id"] for item in listed}
    assert created.resource_id in active, "a key kept for its grace period is not revoked by the old resource's delete"

    longer, _ = check(provider, name="web-2", role="Member", keepPreviousForDays=2.0)
    settings_only = run(provider.diff(DiffRequest(URN, replacement.resource_id, replacement.properties, longer, [])))
    assert settings_only.changes and settings_only.replaces == []
    assert settings_only.detailed_diff["keepPreviousForDays"].kind == PropertyDiffKind.UPDATE
    previewed = run(
        provider.update(UpdateRequest(URN, replacement.resource_id, replacement.properties, longer, 60, [], True))
    )
    assert plain(previewed.properties["keepPreviousForDays"]) == 2.0
    kept = {name: plain(previewed.properties[name]) for name in ("orgId", "name", "role")}
    assert kept == {"orgId": emulator.org_id, "name": "web-2", "role": "role_org_member"}, "what the update keeps"
    updated = run(
        provider.update(UpdateRequest(URN, replacement.resource_id, replacement.properties, longer, 60, [], False))
    )
    assert plain(updated.properties["keepPreviousForDays"]) == 2.0 and updated.properties["token"].is_secret

    refreshed = run(provider.read(ReadRequest(URN, replacement.resource_id, updated.properties, longer)))
    assert refreshed.resource_id == replacement.resource_id and refreshed.inputs == longer
    run(provider.delete(DeleteRequest(URN, replacement.resource_id, updated.properties, 60)))
    gone = run(provider.read(ReadRequest(URN, replacement.resource_id, updated.properties, longer)))
    assert not gone.resource_id
    assert any("no longer active" in message for message in log.messages)


def test_import_reads_back_inputs_that_declare_the_key_and_publishes_no_token(
    provider: ArdentProvider, emulator: EmulatorServer, log: Recorder
) -> None:
    with httpx.Client() as http:
        made = http.post(
            f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys",
            headers={"Authorization": f"Bearer {emulator.token}"},
            json={"name": "hand-made", "role_id": "role_org_member", "scopes": [], "expires_days": 30},
        ).json()
    key_id = made["api_key_id"]
    imported = run(provider.read(ReadRequest(URN, key_id, {}, {})))
    assert imported.resource_id == key_id and "token" not in imported.properties
    assert plain_map(imported.inputs) == {
        "name": "hand-made",
        "scopes": [],
        "expires_in_days": 30.0,
        "adopt_key_id": key_id,
        "on_missing_token": "keep",
    }
    assert any(key_id in message and "without its token" in message for message in log.messages)

    roleless = plain_map_camel(imported.inputs)
    renamed, _ = check(provider, **{**roleless, "name": "hand-made-2", "onMissingToken": "keep"})
    with pytest.raises(ArdentError, match="declare its role"):
        run(provider.diff(DiffRequest(URN, key_id, imported.properties, renamed, [])))
    dropped, failures = check(provider, name="hand-made", scopes=[], expiresInDays=30.0, role="Member")
    assert failures == []
    assert run(provider.diff(DiffRequest(URN, key_id, imported.properties, dropped, []))).replaces == [], (
        "a program that stops declaring the adoption keeps the key as it is"
    )

    declared, failures = check(provider, **{**plain_map_camel(imported.inputs), "role": "Member"})
    assert failures == []
    plan = run(provider.diff(DiffRequest(URN, key_id, imported.properties, declared, [])))
    assert plan.replaces == [] and list(plan.detailed_diff) == ["role"], "the declared role is recorded, not a new key"
    updated = run(provider.update(UpdateRequest(URN, key_id, imported.properties, declared, 60, [], False)))
    assert plain(updated.properties["role"]) == "role_org_member"
    after = run(provider.diff(DiffRequest(URN, key_id, updated.properties, declared, [])))
    assert after.changes is False

    rotate, _ = check(provider, **{**plain_map_camel(declared), "onMissingToken": "rotate"})
    assert run(provider.diff(DiffRequest(URN, key_id, updated.properties, rotate, []))).replaces == ["token"]
    strict, _ = check(provider, **{**plain_map_camel(declared), "onMissingToken": "error"})
    with pytest.raises(ArdentError, match="held without its token"):
        run(provider.diff(DiffRequest(URN, key_id, updated.properties, strict, [])))

    with pytest.raises(ArdentError, match="no active key with id 'key_000000000000000000000000'"):
        run(provider.read(ReadRequest(URN, "key_000000000000000000000000", {}, {})))


def plain_map_camel(values: dict[str, PropertyValue]) -> dict[str, Any]:
    return {name: plain(value) for name, value in values.items()}


def test_an_explicit_provider_reaches_another_org_with_its_own_credentials(
    emulator: EmulatorServer, log: Recorder
) -> None:
    other = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    explicit = configured(
        log, apiUrl=emulator.url, orgId=other["org_id"], token=property_value(other["token"], secret=True)
    )
    inputs, failures = check(explicit, name="svc", role="Member")
    assert failures == []
    created = create(explicit, inputs)
    assert plain(created.properties["orgId"]) == other["org_id"]
    run(explicit.delete(DeleteRequest(URN, created.resource_id, created.properties, 60)))


def test_per_org_credentials_arrive_as_a_map_of_secrets(emulator: EmulatorServer, log: Recorder) -> None:
    other = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    orgs = PropertyValue({other["org_id"]: PropertyValue({"token": property_value(other["token"], secret=True)})})
    provider = configured(
        log, apiUrl=emulator.url, orgId=emulator.org_id, token=property_value(emulator.token, secret=True), orgs=orgs
    )
    inputs, failures = check(provider, name="svc", role="Member", orgId=other["org_id"])
    assert failures == []
    created = create(provider, inputs)
    assert plain(created.properties["orgId"]) == other["org_id"]
    run(provider.delete(DeleteRequest(URN, created.resource_id, created.properties, 60)))


def test_settings_unknown_at_preview_are_proved_later_not_refused(
    log: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine configures no provider whose settings are unknown (tests/e2e/test_native_engine_calls.py); a host
    # that did would get an unknown diff, never a fallback to ARDENT_TOKEN or "No Ardent token is configured".
    monkeypatch.setenv("ARDENT_TOKEN", "sk-ard_" + "0" * 40)
    provider = configured(log, token=PropertyValue(Computed()), orgId="org_x")
    _, failures = check(provider, name="svc", role="Member")
    assert failures == []
    recorded = props(keyId="key_1", orgId="org_x", name="svc", role="role_org_member", scopes=[], status="active")
    news, _ = check(provider, name="svc", role="Member")
    diff = run(provider.diff(DiffRequest(URN, "key_1", recorded, news, [])))
    assert diff.changes is None and diff.replaces == []
    refused = configured(log)
    _, failures = check(refused, name="svc", role="Member")
    assert failures and "No Ardent" in failures[0][1]


class AbortedError(Exception):
    """What grpc's context.abort raises to end the call."""


class FakeContext:
    def __init__(self) -> None:
        self.aborted: tuple[Any, str] | None = None

    async def abort(self, code: Any, details: str) -> None:
        self.aborted = (code, details)
        raise AbortedError(details)


def test_an_ardent_error_reaches_the_engine_as_its_message_alone(
    provider: ArdentProvider, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, _ = check(provider, name="svc", role="Member")
    rule = {"route": CREATE, "mode": "status", "status": 403, "count": 1}
    assert httpx.post(f"{emulator.url}/_emulator/faults", json=rule).status_code == 201
    servicer = PlainErrorServicer([], "0.1.0", provider, engine_address="127.0.0.1:1")
    request = provider_pb2.CreateRequest(urn=URN, properties=PropertyValue.marshal_map(inputs), preview=False)
    context = FakeContext()
    with pytest.raises(AbortedError):
        run(servicer.Create(request, context))
    assert context.aborted is not None
    code, details = context.aborted
    assert code == grpc.StatusCode.UNKNOWN and details.startswith("Could not create Ardent key 'svc'")
    assert "HTTP 403" in details and 'File "' not in details and "Traceback" not in details

    # Any other error keeps the SDK's report, with its stack, for a bug report.
    async def broken(_request: CreateRequest) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(provider, "create", broken)
    with pytest.raises(Exception, match="a bug") as raised:
        run(servicer.Create(request, FakeContext()))
    assert not isinstance(raised.value, AbortedError) and 'File "' in str(raised.value)

    # An SDK whose servicer lets the provider's own error through (3.172 to 3.259 do) gets the same plain answer.
    async def refused(_request: CreateRequest) -> None:
        raise ArdentError("Could not create Ardent key 'svc': refused")

    monkeypatch.setattr(provider, "create", refused)
    monkeypatch.setattr(server.ProviderServicer, "Create", lambda self, request, context: refused(request))
    plain_servicer = type("Servicer", (PlainErrorServicer,), {})([], "0.1.0", provider, engine_address="x")
    bare = FakeContext()
    with pytest.raises(AbortedError):
        run(_plainly_for_test("Create")(plain_servicer, request, bare))
    assert bare.aborted is not None and bare.aborted[1] == "Could not create Ardent key 'svc': refused"


def test_the_urn_gives_the_identity_that_replacements_are_matched_by() -> None:
    assert _identity(URN) == {"resource_name": "web", "parent_resource": None}
    nested = "urn:pulumi:dev::proj::my:app:Service$ardent:index:ApiKey::web"
    assert _identity(nested) == {"resource_name": "web", "parent_resource": "my:app:Service"}


def test_the_executable_finds_the_engine_address_and_names_the_sdk_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _engine_address(["--logtostderr", "-v=9", "127.0.0.1:5000"]) == "127.0.0.1:5000"
    assert _engine_address([]) is None
    import builtins

    real_import = builtins.__import__

    def without_plugin(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "plugin" or name.endswith("native.plugin"):
            raise ImportError("cannot import name 'Provider'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_plugin)
    with pytest.raises(SystemExit) as exited:
        native.main()
    assert "3.260.0 or newer" in str(exited.value.code) and "cannot import name 'Provider'" in str(exited.value.code)


def test_the_executable_refuses_a_pulumi_older_than_it_is_tested_on_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "3.259.0" if name == "pulumi" else real_version(name))
    with pytest.raises(SystemExit) as exited:
        native.main()
    message = str(exited.value.code)
    assert "needs the pulumi Python SDK 3.260.0 or newer" in message and "pulumi 3.259.0 is installed" in message
    assert "pip install 'pulumi>=3.260.0,<4'" in message

    monkeypatch.setattr(metadata, "version", lambda name: "3.260.0" if name == "pulumi" else real_version(name))
    assert native._sdk_too_old() is None


def test_a_key_moved_from_ardent_api_key_by_an_alias_is_updated_in_place_to_this_types_names(
    provider: ArdentProvider, emulator: EmulatorServer
) -> None:
    from pulumi.dynamic import ConfigureRequest as DynamicConfigure
    from pulumi.dynamic.config import Config

    from ardent_provider.provider import ArdentApiKeyProvider

    dynamic = ArdentApiKeyProvider()
    settings = {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token}
    dynamic.configure(DynamicConfigure(Config(raw_config=settings, project_name="proj")))
    checked = dynamic.check({}, {"name": "web", "role": "Member", "resource_name": "web"}).inputs
    made = dynamic.create(checked)
    old_state = {name: property_value(value) for name, value in (made.outs or {}).items() if value is not None}
    old_state["__provider"] = property_value("pickled")
    news, _ = check(provider, name="web", role="Member")

    plan = run(provider.diff(DiffRequest(URN, made.id, old_state, news, [])))
    assert plan.changes and plan.replaces == [], "the same key, no new one"
    updated = run(provider.update(UpdateRequest(URN, made.id, old_state, news, 60, [], False)))
    assert plain(updated.properties["keyId"]) == made.id and updated.properties["token"].is_secret
    assert plain(updated.properties["token"]) == (made.outs or {})["token"], "the token is carried over"
    assert not {"key_id", "__provider", "resource_name"} & set(updated.properties)
    after = run(provider.diff(DiffRequest(URN, made.id, updated.properties, news, [])))
    assert after.changes is False
    assert creates(emulator) == 1


def test_an_adoption_that_rotates_needs_a_role_at_check(provider: ArdentProvider, emulator: EmulatorServer) -> None:
    _, failures = check(provider, name="hand-made", adoptKeyId="key_1", onMissingToken="rotate")
    assert [name for name, _ in failures] == ["role"] and "on_missing_token 'rotate'" in failures[0][1]
    assert creates(emulator) == 0
    _, kept = check(provider, name="hand-made", adoptKeyId="key_1", onMissingToken="keep")
    assert not [name for name, _ in kept if name == "role"], "keep needs no role: the key is not replaced"


def test_get_looks_a_key_up_without_adopting_it_or_warning(
    provider: ArdentProvider, emulator: EmulatorServer, log: Recorder
) -> None:
    with httpx.Client() as http:
        made = http.post(
            f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys",
            headers={"Authorization": f"Bearer {emulator.token}"},
            json={"name": "hand-made", "role_id": "role_org_member", "scopes": ["projects.read"], "expires_days": 30},
        ).json()
    reset = READ_BY_IMPORT_COMMAND.set(False)
    try:
        found = run(provider.read(ReadRequest(URN, made["api_key_id"], {}, {})))
    finally:
        READ_BY_IMPORT_COMMAND.reset(reset)
    outputs = plain_map(found.properties)
    assert outputs["name"] == "hand-made" and outputs["scopes"] == ["projects.read"] and "token" not in outputs
    assert not {"adopt_key_id", "on_missing_token"} & set(outputs) and log.messages == []


class FakeEngine:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def Log(self, request: Any) -> None:
        self.requests.append(request)


def test_a_warning_is_sent_with_the_urn_of_the_resource_the_call_is_about() -> None:
    log = EngineLog(None)
    engine = FakeEngine()
    log._engine = engine  # type: ignore[assignment]

    async def warn_from_a_worker_thread() -> None:
        with about(URN):
            await asyncio.to_thread(log.warn, "about web")
        log.warn("about nothing")

    run(warn_from_a_worker_thread())
    assert [(request.urn, request.message) for request in engine.requests] == [
        (URN, "about web"),
        ("", "about nothing"),
    ]


def test_a_native_key_with_a_sink_checks_camel_case_fields_and_publishes_no_token(
    provider: ArdentProvider, emulator: EmulatorServer, secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    secret_id = secrets_store.name()
    declared = {"awsSecretsManager": {"secretId": secret_id, "endpointUrl": secrets_store.endpoint}}
    inputs, failures = check(provider, role="Member", sink=declared)
    assert failures == [] and plain(inputs["sink"]) == declared
    _, failures = check(provider, role="Member", sink={"awsSecretsManager": {"secretId": "x", "recoveryWindowDays": 1}})
    assert [prop for prop, _ in failures] == ["sink"] and "from 7 to 30, not 1" in failures[0][1]

    planned = create(provider, inputs, preview=True).properties
    assert "token" not in planned and "previousToken" not in planned
    created = create(provider, inputs)
    outputs = plain_map(created.properties)
    token = secrets_store.current(secret_id)
    assert "token" not in created.properties and "previousToken" not in created.properties
    assert outputs["sink_secret_arn"] == secrets_store.describe(secret_id)["ARN"]
    assert outputs["token_fingerprint"] and token not in repr(created.properties)
    assert plain(created.properties["sink"]) == declared, "the sink's fields keep the program's names"
    run(provider.delete(DeleteRequest(URN, created.resource_id, created.properties, 60)))
    assert secrets_store.describe(secret_id).get("DeletedDate") is not None
