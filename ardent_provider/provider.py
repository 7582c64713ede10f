"""The dynamic provider behind ``ArdentApiKey``: a thin adapter from Pulumi's dicts to :mod:`.lifecycle`.

The provider instance is pickled into every resource's state, so it pickles to nothing: credentials arrive
through :meth:`ArdentApiKeyProvider.configure` in the provider process, where the provider keeps one
:class:`~ardent_provider.lifecycle.KeyLifecycle` per settings for the whole run. This class stays at
``ardent_provider.provider.ArdentApiKeyProvider``: existing stacks find it there.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
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
from .lifecycle import KeyLifecycle
from .settings import Settings, resolve_settings
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


class ArdentApiKeyProvider(ResourceProvider):
    """Creates, reads, rotates and revokes Ardent API keys. A change of key input replaces the key."""

    # Nothing per-run is set in __init__ or restored by __setstate__, so an unpickled provider's __dict__
    # stays empty until configure(); this lock only guards creating the run's lifecycles.
    _run_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle nothing: settings and connections are per process, never part of state."""
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Start empty; :meth:`configure` supplies the settings."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember the stack's configuration; settings are resolved when first needed."""
        # The whole stack config (every namespace), so that a misspelt ardent: key can be named.
        everything = getattr(req.config, "_props", None)
        self._config: Mapping[str, object] | Callable[[str], object | None] = (
            dict(everything) if isinstance(everything, Mapping) else req.config.get
        )

    def lifecycle(self) -> KeyLifecycle:
        """The run's lifecycle for the configured settings, created on first use."""
        settings = resolve_settings(getattr(self, "_config", {}))
        with self._run_lock:
            lifecycles: dict[Settings, KeyLifecycle] = self.__dict__.setdefault("_lifecycles", {})
            found = lifecycles.get(settings)
            if found is None:
                client = ArdentClient(settings.token, api_url=settings.api_url)
                found = KeyLifecycle(client, settings.org_id, warn=pulumi.log.warn)
                lifecycles[settings] = found
            return found

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
        try:
            lifecycle = self.lifecycle()
            permissions = lifecycle.verify_settings()
        except ArdentConfigurationError as error:
            return [CheckFailure("", str(error))]
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            return [CheckFailure("", _settings_problem(error))]
        except ArdentConnectionError as error:
            if error.sent:
                return []
            return [CheckFailure("", f"The Ardent API cannot be reached: {error}")]
        except ArdentError:
            return []  # A passing fault (429, 5xx): create() retries and reports what stays broken.
        role, scopes = inputs.get("role"), inputs.get("scopes")
        if is_unknown(role) or is_unknown(scopes):
            return []
        problem = lifecycle.scope_problem(str(role), scopes or [], permissions)
        return [CheckFailure("scopes", problem)] if problem else []

    @_plain_errors
    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare real inputs; a changed key input, expiry, a broken token or the rotation window replace."""
        plan = self.lifecycle().plan(_state(id_, olds), from_engine(news))
        return DiffResult(changes=plan.changes, replaces=list(plan.replaces), stables=[], delete_before_replace=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    @_plain_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create (or, the first time, adopt) the key and return every output, its token included."""
        state = self.lifecycle().create(KeySpec.from_inputs(props))
        return CreateResult(state.key_id, state.to_outputs())

    @_plain_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the key in the org's list. A key gone (revoked or deleted) leaves state; the token is kept."""
        state = self.lifecycle().refresh(_state(id_, props))
        if state is None:
            return ReadResult(None, {})
        return ReadResult(state.key_id, state.to_outputs())

    @_plain_errors
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record changed settings, and revoke the previous key once its grace period is over."""
        state = self.lifecycle().update(_state(id_, olds), KeySpec.from_inputs(news))
        return UpdateResult(state.to_outputs())

    @_plain_errors
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key (unless a rotation keeps it for its grace period) and any previous key it kept."""
        self.lifecycle().delete(_state(id_, props))


def _settings_problem(error: ArdentError) -> str:
    if isinstance(error, AuthenticationError):
        return (
            "Ardent rejected the configured token (HTTP 401: unknown, revoked or expired); set a valid admin or "
            "owner token with `pulumi config set --secret ardent:token <token>` or ARDENT_TOKEN."
        )
    status = getattr(error, "status", "?")
    return (
        f"The configured token may not manage the API keys of the configured org (HTTP {status}):"
        " check that ardent:orgId / ARDENT_ORG_ID is the token's own org and that the token's role is admin or owner."
    )
