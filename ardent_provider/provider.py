"""The dynamic provider behind ``ArdentApiKey``: a thin adapter from Pulumi's dicts to :mod:`.lifecycle`.

The provider instance is pickled into every resource's state, so it pickles to nothing: credentials arrive
through :meth:`ArdentApiKeyProvider.configure` in the provider process, where the provider keeps one
:class:`~ardent_provider.lifecycle.KeyLifecycle` per settings for the whole run. This class stays at
``ardent_provider.provider.ArdentApiKeyProvider``: existing stacks find it there.
"""

from __future__ import annotations

import functools
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import UNKNOWN as PULUMI_UNKNOWN
from pulumi.output import Unknown as PulumiUnknown

from .client import ArdentClient
from .errors import (
    ArdentConfigurationError,
    ArdentConnectionError,
    ArdentError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from .lifecycle import KeyLifecycle, ReplacementLedger
from .refusals import config_place, explain_refusal
from .runs import process_runs, run_key
from .settings import resolve_settings
from .state import UNKNOWN, KeySpec, KeyState, Unknown, is_unknown
from .validation import validate_inputs

PROVIDER_KEY = "__provider"
P = ParamSpec("P")
R = TypeVar("R")


def _plain_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Let Ardent errors reach the user as their one-line message, without this module's frames."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ArdentError as error:
            raise error.with_traceback(None) from None

    return wrapper


@contextmanager
def _reporting(action: str, subject: str) -> Iterator[None]:
    """Say which key an Ardent error is about, and what to do when the credentials were refused."""
    try:
        yield
    except ArdentError as error:
        message = f"Could not {action} {subject}: {error.args[0] if error.args else error}"
        if isinstance(error, AuthenticationError | PermissionDeniedError) and action != "create":
            message += RECORDED_CONFIG_HINT
        error.args = (message,)
        raise


RECORDED_CONFIG_HINT = (
    " Note: `pulumi refresh` and `pulumi destroy` use the Ardent settings recorded at the last `pulumi up`, not "
    "the current stack config; after changing ardent:token or ardent:orgId, run `pulumi refresh --run-program`, "
    "`pulumi destroy --run-program`, or `pulumi up` first."
)


class _ReportedTraceback:
    """Stands in for the dynamic provider server's ``traceback`` module: an Ardent error reads as its message.

    The server answers every exception from a provider method with ``traceback.format_exc()``, which the
    engine prints as is. For Ardent errors the message says all a user needs; other errors keep their traceback.
    """

    def __init__(self, original: types.ModuleType) -> None:
        self._original = original

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        """The error's message (with its notes) for Ardent errors, else the usual traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ArdentError):
            return "\n".join([str(error), *getattr(error, "__notes__", [])])
        text: str = self._original.format_exc(*args, **kwargs)
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def install_plain_error_reports(server_module: types.ModuleType | None = None) -> bool:
    """Make the dynamic provider server report Ardent errors without a traceback; True when installed.

    ``server_module`` is ``pulumi.dynamic.__main__``, which runs as ``__main__`` in the provider process.
    Anywhere else (the program, a test runner) nothing is changed.
    """
    module = server_module if server_module is not None else sys.modules.get("__main__")
    if module is None or not hasattr(module, "DynamicResourceProviderServicer"):
        return False
    current = getattr(module, "traceback", None)
    if isinstance(current, _ReportedTraceback):
        return True
    if current is not traceback:
        return False
    module.traceback = _ReportedTraceback(traceback)  # type: ignore[attr-defined]
    return True


def from_engine(value: Any) -> Any:
    """Pulumi's unknown markers replaced by this package's own, in nested lists and maps too."""
    if isinstance(value, PulumiUnknown):
        return UNKNOWN
    if isinstance(value, list):
        return [from_engine(item) for item in value]
    if isinstance(value, dict):
        return {key: from_engine(item) for key, item in value.items()}
    return value


def to_engine(value: Any) -> Any:
    """Unknown markers turned back into Pulumi's own, for the engine."""
    if isinstance(value, Unknown):
        return PULUMI_UNKNOWN
    if isinstance(value, list):
        return [to_engine(item) for item in value]
    if isinstance(value, dict):
        return {key: to_engine(item) for key, item in value.items()}
    return value


def _state(id_: str, props: Mapping[str, Any]) -> KeyState:
    return KeyState.from_outputs(id_, props)


def _describe(state: KeyState) -> str:
    org = f" in org {state.org_id}" if state.org_id else ""
    return f"Ardent key {state.key_id} ({state.spec.name!r}){org}"


class ArdentApiKeyProvider(ResourceProvider):
    """Creates, reads, rotates and revokes Ardent API keys. A change of key input replaces the key."""

    def __getstate__(self) -> None:
        """Pickle nothing: settings and connections are per process, never part of state.

        None, not an empty dict: the SDK's ``serialize_provider`` wraps pickle's dict writer once more for
        every resource it serialises, so a dict in the pickle recurses one level deeper per key and a program
        with about a thousand keys fails with RecursionError. Without state there is no dict to write.
        """
        return None

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Start empty; :meth:`configure` supplies the settings."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember the stack's configuration; settings are resolved when first needed."""
        install_plain_error_reports()
        # The whole stack config (every namespace), so that a misspelt ardent: key can be named.
        everything = getattr(req.config, "_props", None)
        self._config: Mapping[str, object] | Callable[[str], object | None] = (
            dict(everything) if isinstance(everything, Mapping) else req.config.get
        )

    def lifecycle(self, org_id: str | None = None) -> KeyLifecycle:
        """The run's lifecycle for an org (the configured default when None), created on first use.

        Every instance of one run shares it through the process's :class:`~ardent_provider.runs.RunRegistry`.
        """
        config = getattr(self, "_config", {})
        settings = resolve_settings(config, org_id=org_id)
        default = settings if org_id is None else None
        if callable(config) and default is None:
            default = resolve_settings(config)
        key = run_key(config, default)

        def make(ledger: ReplacementLedger) -> KeyLifecycle:
            return KeyLifecycle(
                ArdentClient(settings.token, api_url=settings.api_url),
                settings.org_id,
                warn=pulumi.log.warn,
                ledger=ledger,
                borrowed_credentials=not settings.own_credentials,
            )

        return process_runs().lifecycle(key, settings, make)

    # -- preview ------------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs; every problem is reported against its property.

        Inputs unknown at preview pass through and are checked when known. The settings are proved once
        per run and scopes are checked against the role's permissions, so that bad input and bad
        configuration fail at preview, before anything is created.
        """
        inputs, problems = validate_inputs(from_engine(news))
        failures = [CheckFailure(name, reason) for name, reason in problems]
        if not failures:
            failures.extend(self._settings_failures(inputs))
        return CheckResult(to_engine(inputs), failures)

    def _settings_failures(self, inputs: Mapping[str, Any]) -> list[CheckFailure]:
        declared = inputs.get("org_id")
        if isinstance(declared, Unknown):
            declared = None  # checked when known; the configured settings are still proved now
        # A problem with an org the program names is that property's problem.
        prop = "org_id" if declared else ""
        try:
            lifecycle = self.lifecycle(declared)
        except ArdentConfigurationError as error:
            return [CheckFailure(prop, str(error))]
        try:
            permissions = lifecycle.verify_settings()
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            return [CheckFailure(prop, _settings_problem(error, lifecycle))]
        except ArdentConnectionError as error:
            if error.sent:
                return []
            return [CheckFailure(prop, f"The Ardent API cannot be reached: {error}")]
        except ArdentError:
            return []  # A passing fault (429, 5xx): create() retries and reports what stays broken.
        role, scopes = inputs.get("role"), inputs.get("scopes")
        if is_unknown(role) or is_unknown(scopes):
            return []
        problem = lifecycle.scope_problem(str(role), scopes or [], permissions)
        return [CheckFailure("scopes", problem)] if problem else []

    def _target(self, news: Mapping[str, Any]) -> tuple[KeyLifecycle, object]:
        """The lifecycle of the org the inputs ask for, and that org (or an unknown value) for ``plan``."""
        declared = news.get("org_id")
        if isinstance(declared, Unknown):
            return self.lifecycle(), declared
        lifecycle = self.lifecycle(declared if isinstance(declared, str) and declared else None)
        return lifecycle, lifecycle.org_id

    @_plain_errors
    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare real inputs; a changed key input, expiry, a broken token or the rotation window replace."""
        old = _state(id_, olds)
        news = from_engine(news)
        with _reporting("plan the change of", _describe(old)):
            if old.org_id is None:
                # State from a release that did not record the org: the key lives in the configured default org.
                old = replace(old, org_id=self.lifecycle().org_id)
            lifecycle, target_org = self._target(news)
            plan = lifecycle.plan(old, news, target_org)
        return DiffResult(changes=plan.changes, replaces=list(plan.replaces), stables=[], delete_before_replace=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    @_plain_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create (or, the first time, adopt) the key and return every output, its token included."""
        spec = KeySpec.from_inputs(props)
        with _reporting("create", f"Ardent key {spec.name!r}"):
            state = self.lifecycle(spec.org_id).create(spec)
        return CreateResult(state.key_id, state.to_outputs())

    @_plain_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the key in the org's list. A key gone (revoked or deleted) leaves state; the token is kept."""
        old = _state(id_, props)
        with _reporting("refresh", _describe(old)):
            state = self.lifecycle(old.org_id).refresh(old)
        if state is None:
            return ReadResult(None, {})
        return ReadResult(state.key_id, state.to_outputs())

    @_plain_errors
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record changed settings, and revoke the previous key once its grace period is over."""
        old = _state(id_, olds)
        with _reporting("update", _describe(old)):
            state = self.lifecycle(old.org_id).update(old, KeySpec.from_inputs(news))
        return UpdateResult(state.to_outputs())

    @_plain_errors
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key (unless a rotation keeps it for its grace period) and any previous key it kept."""
        old = _state(id_, props)
        with _reporting("revoke", _describe(old)):
            self.lifecycle(old.org_id).delete(old)


def _settings_problem(error: ArdentError, lifecycle: KeyLifecycle) -> str:
    place = config_place(lifecycle.org_id, own_credentials=not lifecycle.borrowed_credentials)
    return explain_refusal(error, lifecycle.org_id, lifecycle.client.api_url, place, doing="used")
