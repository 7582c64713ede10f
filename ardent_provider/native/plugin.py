"""The ``pulumi-resource-ardent`` provider plugin: ``ardent:index:ApiKey`` served over Pulumi's provider protocol.

A second adapter on :class:`~ardent_provider.provider_steps.ProviderSteps`: property maps are turned into this
package's plain dicts (:mod:`.values`), the shared steps run in a worker thread (they make blocking HTTP calls;
the engine calls for many keys at once), and the results go back camelCased with the tokens secret. The
dynamic ``ArdentApiKey`` does the same with the dynamic provider's types, so both resource types behave alike.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import grpc
from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from .. import __version__
from ..errors import ArdentError
from ..program_words import program_wording
from ..provider_steps import ProviderSteps
from ..settings import CONFIG_NAMESPACE, SETTING_KEYS, check_config_keys
from ..state import (
    CAMEL_NAMES,
    COMPUTED_OUTPUTS,
    INPUT_NAMES,
    PROPERTY_NAMES,
    SECRET_OUTPUTS,
    SINK_INPUT,
    UNKNOWN,
    KeyState,
    is_unknown,
    kept_by_update,
)
from ..validation import validate_inputs
from .schema import SECRET_SETTINGS, schema_json
from .values import PropertyMap, plain, plain_map, property_map, secret_names

# Outputs a key with a sink never has: its sink holds the tokens.
SINK_HELD = ("token", "previous_token")
# Provider inputs the engine itself adds to an explicit provider; they are not settings.
ENGINE_PROVIDER_INPUTS = frozenset({"version", "pluginDownloadURL"})

RESOURCE_URN: ContextVar[str] = ContextVar("ardent_resource_urn", default="")
"""The URN of the resource the call in progress is about: its warnings are shown under that resource."""
READ_BY_IMPORT_COMMAND: ContextVar[bool | None] = ContextVar("ardent_read_by_import_command", default=None)
"""For the call in progress (only ``read`` uses it): whether ``pulumi import`` sent it. That command runs no program,
so its reads come without the address of the engine's resource status service, which reads during a program run
carry (``get``, the ``import`` resource option). None when the provider is called without
:class:`PlainErrorServicer`."""


@contextmanager
def about(urn: str) -> Iterator[None]:
    """Attach the warnings of the call in progress (its worker thread too) to the resource at ``urn``."""
    token = RESOURCE_URN.set(urn)
    try:
        yield
    finally:
        RESOURCE_URN.reset(token)


class EngineLog:
    """Warnings shown by the Pulumi CLI, sent to the engine that started the plugin."""

    def __init__(self, engine_address: str | None, words: Callable[[str], str] | None = None) -> None:
        self._engine = engine_pb2_grpc.EngineStub(grpc.insecure_channel(engine_address)) if engine_address else None
        self._words = words or program_wording()

    def warn(self, message: str) -> None:
        """Show ``message`` as a warning of the resource the call is about (on stderr when no engine is attached)."""
        message = self._words(message)
        if self._engine is None:
            sys.stderr.write(f"warning: {message}\n")
            return
        self._engine.Log(engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message, urn=RESOURCE_URN.get()))


def _identity(urn: str) -> dict[str, Any]:
    """Where the resource sits, from its URN: its name and its parents' types (``resource_name``, ``parent_resource``).

    They tell apart keys of one name under different parents, so that a replacement finds the key it replaces.
    """
    parts = urn.split("::")
    types = parts[-2] if len(parts) > 1 else ""
    parents = types.rsplit("$", 1)[0] if "$" in types else None
    return {"resource_name": parts[-1], "parent_resource": parents}


def _settings(args: PropertyMap) -> tuple[dict[str, object], bool]:
    """The provider's configuration as the settings module reads stack config, and whether any is unknown."""
    config: dict[str, object] = {}
    unknown = False
    for name, value in args.items():
        if name in ENGINE_PROVIDER_INPUTS:
            continue
        known = plain(value)
        if is_unknown(known):
            unknown = True
            continue
        if known is not None and known != "":
            config[f"{CONFIG_NAMESPACE}:{name}"] = known
    return config, unknown


def _written_by_the_dynamic_provider(state: PropertyMap) -> bool:
    """Whether recorded state has ``ArdentApiKey``'s names (``key_id``, its pickled ``__provider``)."""
    return "key_id" in state or "__provider" in state


def outputs(values: KeyState | Mapping[str, Any], secrets: Iterable[str] = ()) -> dict[str, PropertyValue]:
    """Every output of a key, or of one planned at preview, camelCased; tokens and the program's secrets secret."""
    plain_values = values.to_outputs() if isinstance(values, KeyState) else values
    return property_map(plain_values, PROPERTY_NAMES, {*SECRET_OUTPUTS, *secrets})


class ArdentProvider(Provider):
    """The ``ardent`` provider: one configuration (the stack's, or an explicit provider's) per process."""

    def __init__(self, log: EngineLog | None = None, words: Callable[[str], str] | None = None) -> None:
        self._words = words or program_wording()
        self._log = log or EngineLog(None, self._words)
        self._config: dict[str, object] = {}
        self._config_unknown = False

    @property
    def steps(self) -> ProviderSteps:
        """The steps shared with the dynamic provider, on this provider's configuration."""
        return ProviderSteps(self._config, self._log.warn)

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        """The package schema (see :mod:`.schema`)."""
        return GetSchemaResponse(schema_json())

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        """Refuse settings that do not exist (naming the nearest), before any key is touched."""
        names = [name for name in request.new_inputs if name not in ENGINE_PROVIDER_INPUTS]
        try:
            check_config_keys(f"{CONFIG_NAMESPACE}:{name}" for name in names)
        except ArdentError as error:
            wrong = next(name for name in names if f"{CONFIG_NAMESPACE}:{name}" not in SETTING_KEYS)
            return CheckResponse(inputs=request.new_inputs, failures=[CheckFailure(wrong, str(error))])
        # Tokens (ardent:token, and each org's under ardent:orgs) are kept in the provider's state: always secret.
        inputs = {
            name: value.with_secret(True) if name in SECRET_SETTINGS else value
            for name, value in request.new_inputs.items()
        }
        return CheckResponse(inputs=inputs)

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        """Remember the configuration; settings are resolved (with environment fallbacks) when first needed."""
        self._config, self._config_unknown = _settings(request.args)
        return ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def check(self, request: CheckRequest) -> CheckResponse:
        """Validate and normalise the inputs, and prove the settings at preview, as the dynamic provider does."""
        news = plain_map(request.new_inputs)
        if news.get("name") is None:
            news["name"] = _identity(request.urn)["resource_name"]  # as ArdentApiKey does: the resource's name
        with about(request.urn):
            if self._config_unknown:
                # The provider's own settings are computed by this run: the inputs are checked, the settings when known.
                inputs, failures = validate_inputs(news)
            else:
                inputs, failures = await asyncio.to_thread(self.steps.check, news)
        secrets = secret_names(request.new_inputs)
        return CheckResponse(
            inputs=property_map(inputs, INPUT_NAMES, {*secrets, *SECRET_OUTPUTS}),
            failures=[CheckFailure(CAMEL_NAMES.get(name, name), self._words(reason)) for name, reason in failures],
        )

    async def diff(self, request: DiffRequest) -> DiffResponse:
        """What an ``up`` does: the same plan as the dynamic provider, with a detailed diff per property."""
        if self._config_unknown:
            # Without settings nothing can be proved (expiry, the stored token): the diff is unknown, which the
            # engine answers as it does for a provider it could not configure, and `up` diffs again once known.
            return DiffResponse()
        news = {**plain_map(request.new_inputs), **_identity(request.urn)}
        with about(request.urn):
            plan = await asyncio.to_thread(self.steps.plan, request.resource_id, plain_map(request.old_state), news)
        detailed = {
            CAMEL_NAMES.get(name, name): PropertyDiff(PropertyDiffKind.UPDATE, name in INPUT_NAMES)
            for name in plan.updates
        }
        detailed.update(
            {
                CAMEL_NAMES.get(name, name): PropertyDiff(PropertyDiffKind.UPDATE_REPLACE, name in INPUT_NAMES)
                for name in plan.replaces
            }
        )
        migrated = _written_by_the_dynamic_provider(request.old_state)
        if migrated and not detailed:
            # A key moved here from ArdentApiKey by an alias: an update rewrites its state with this type's names.
            detailed[CAMEL_NAMES["key_id"]] = PropertyDiff(PropertyDiffKind.UPDATE, False)
        return DiffResponse(
            changes=plan.changes or migrated,
            replaces=[CAMEL_NAMES.get(name, name) for name in plan.replaces],
            diffs=list(detailed),
            detailed_diff=detailed,
            delete_before_replace=False,
        )

    # diff_config is left to the SDK: its answer ("unknown") makes the engine compare the settings itself, so a
    # changed or computed setting (a token that is another key's output) updates the provider in place and never
    # replaces the keys it manages. The SDK's DiffConfig servicer would also send a True `changes` as "no change".

    async def create(self, request: CreateRequest) -> CreateResponse:
        """Create (or adopt) the key; at preview, its inputs with every computed output unknown."""
        props = {**plain_map(request.properties), **_identity(request.urn)}
        secrets = secret_names(request.properties)
        if request.preview:
            # With a sink the tokens are never outputs: not even unknown ones.
            held = SINK_HELD if props.get(SINK_INPUT) is not None else ()
            computed = [name for name in COMPUTED_OUTPUTS if props.get(name) is None and name not in held]
            planned = {**props, **dict.fromkeys(computed, UNKNOWN)}
            return CreateResponse("", outputs(planned, secrets))
        with about(request.urn):
            state = await asyncio.to_thread(self.steps.create, props)
        return CreateResponse(state.key_id, outputs(state, secrets))

    async def read(self, request: ReadRequest) -> ReadResponse:
        """Refresh the key; with nothing recorded, adopt it for ``pulumi import``, else look it up (``get``)."""
        with about(request.urn):
            if not request.properties and not request.inputs:
                if READ_BY_IMPORT_COMMAND.get() is False:
                    return await self._look_up(request.resource_id)
                return await self._import(request.resource_id)
            secrets = secret_names(request.properties)
            refreshed = await asyncio.to_thread(self.steps.read, request.resource_id, plain_map(request.properties))
        if refreshed is None:
            return ReadResponse(None, {}, {})
        return ReadResponse(refreshed.key_id, outputs(refreshed, secrets), dict(request.inputs))

    async def _import(self, key_id: str) -> ReadResponse:
        """The key recorded as adopted, with the inputs that declare it (the engine's import writes them as code)."""
        state = await asyncio.to_thread(self.steps.import_key, key_id)
        # No role: Ardent lists none, and the program's own becomes the recorded one (see KeyLifecycle.plan).
        recorded = property_map(state.spec.to_inputs(), [name for name in INPUT_NAMES if name != "role"])
        return ReadResponse(state.key_id, outputs(state), recorded)

    async def _look_up(self, key_id: str) -> ReadResponse:
        """The key as its org lists it, for a program that only reads it: nothing is adopted, nothing warned."""
        state = await asyncio.to_thread(self.steps.look_up, key_id)
        inputs = property_map(state.spec.to_inputs(), [name for name in INPUT_NAMES if name != "role"])
        return ReadResponse(state.key_id, outputs(state), inputs)

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        """Record changed settings and revoke a previous key whose grace period is over (nothing at preview)."""
        secrets = secret_names(request.olds) | secret_names(request.news)
        news = plain_map(request.news)
        olds = plain_map(request.olds)
        if request.preview:
            planned = {**olds, **{name: news.get(name) for name in INPUT_NAMES}}
            # The org of a state that records none is the one the inputs ask for: a different one would replace.
            planned.update(kept_by_update(olds, news, news.get("org_id") or UNKNOWN))
            if news.get(SINK_INPUT) is not None:
                planned.update(dict.fromkeys(SINK_HELD))  # a sink added by this update takes the tokens
            return UpdateResponse(outputs(planned, secrets))
        with about(request.urn):
            state = await asyncio.to_thread(self.steps.update, request.resource_id, olds, news)
        return UpdateResponse(outputs(state, secrets))

    async def delete(self, request: DeleteRequest) -> None:
        """Revoke the key, unless a rotation keeps it for its grace period, and any previous key it kept."""
        with about(request.urn):
            await asyncio.to_thread(self.steps.delete, request.resource_id, plain_map(request.properties))


class PlainErrorServicer(server.ProviderServicer):
    """The SDK's servicer, answering an Ardent error with its message alone.

    The SDK's servicer turns every exception into its message followed by the Python stack, which the engine
    prints as is. For an Ardent error the message says all a user needs; other errors keep their stack.
    """


def _plainly(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    rpc = getattr(server.ProviderServicer, name)

    async def answer(self: PlainErrorServicer, request: Any, context: Any) -> Any:
        # `pulumi import` runs no program: its reads lack the resource status address a program run's reads carry.
        importing = READ_BY_IMPORT_COMMAND.set(not getattr(request, "resource_status_address", ""))
        try:
            return await rpc(self, request, context)
        except Exception as error:
            # Newer SDKs re-raise a provider's error wrapped (the original is the context); older ones raise it.
            cause = error if isinstance(error, ArdentError) else None
            if cause is None and not error.__suppress_context__:
                cause = error.__context__ if isinstance(error.__context__, ArdentError) else None
            if cause is not None:
                await context.abort(grpc.StatusCode.UNKNOWN, program_wording()(cause.report()))
            raise
        finally:
            READ_BY_IMPORT_COMMAND.reset(importing)

    answer.__name__ = name
    return answer


for _rpc in ("CheckConfig", "Configure", "Check", "Diff", "Create", "Read", "Update", "Delete"):
    setattr(PlainErrorServicer, _rpc, _plainly(_rpc))


def _engine_address(argv: list[str]) -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("engine", nargs="?")
    known, _ = parser.parse_known_args(argv)
    engine: str | None = known.engine
    return engine


def main() -> None:
    """Serve the provider to the engine that started this process (``pulumi-resource-ardent <engine address>``)."""
    args = sys.argv[1:]
    # server.main builds the servicer it names at module level; this process serves with the plain-error one.
    server.ProviderServicer = PlainErrorServicer  # type: ignore[misc]
    server.main(args, __version__, ArdentProvider(EngineLog(_engine_address(args))))
