"""The provider's steps on plain property dicts, shared by the dynamic and the native adapter.

The dynamic ``ArdentApiKey`` and the native ``ardent:index:ApiKey`` plugin both call them.

:class:`ProviderSteps` takes checked (or recorded) properties with this package's names and unknown markers
(:mod:`.state`), finds the run's :class:`~ardent_provider.lifecycle.KeyLifecycle` for the org they name, and
says which key an Ardent error is about. It knows nothing of Pulumi's types: each adapter translates its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from .client import ArdentClient
from .credential_refusals import config_place, explain_refusal
from .errors import (
    ArdentConfigurationError,
    ArdentConnectionError,
    ArdentError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from .lifecycle import KeyAdoptionError, KeyLifecycle, Plan, ReplacementLedger, Warn
from .run_registry import process_runs, run_key
from .settings import resolve_settings
from .state import KeySpec, KeyState, SinkSpec, Unknown, is_unknown
from .validation import validate_inputs

Config = Mapping[str, object] | Callable[[str], object | None]
"""The stack's configuration with namespaced keys (``ardent:token``), or a lookup function."""
Failure = tuple[str, str]
"""A problem with one input: the property (empty for the provider's settings) and the reason."""

RECORDED_CONFIG_HINT = (
    " Note: `pulumi refresh` and `pulumi destroy` use the Ardent settings recorded at the last `pulumi up`, not "
    "the current stack config; after changing ardent:token or ardent:orgId, run `pulumi refresh --run-program`, "
    "`pulumi destroy --run-program`, or `pulumi up` first."
)


@contextmanager
def reporting(action: str, subject: str) -> Iterator[None]:
    """Say which key an Ardent error is about, and what to do when the credentials were refused."""
    try:
        yield
    except ArdentError as error:
        message = f"Could not {action} {subject}: {error.args[0] if error.args else error}"
        if isinstance(error, AuthenticationError | PermissionDeniedError) and action != "create":
            message += RECORDED_CONFIG_HINT
        error.args = (message,)
        raise


def describe(state: KeyState) -> str:
    """How a message names a recorded key."""
    org = f" in org {state.org_id}" if state.org_id else ""
    return f"Ardent key {state.key_id} ({state.spec.name!r}){org}"


class ProviderSteps:
    """Check, plan, create, read, update, delete and import keys for one provider configuration."""

    def __init__(self, config: Config, warn: Warn) -> None:
        self.config = config
        self._warn = warn

    def lifecycle(self, org_id: str | None = None) -> KeyLifecycle:
        """The run's lifecycle for an org (the configured default when None), created on first use.

        Every adapter instance with the same settings shares it through the process's
        :class:`~ardent_provider.run_registry.RunRegistry`.
        """
        settings = resolve_settings(self.config, org_id=org_id)
        default = settings if org_id is None else None
        if callable(self.config) and default is None:
            default = resolve_settings(self.config)
        key = run_key(self.config, default)

        def make(ledger: ReplacementLedger) -> KeyLifecycle:
            return KeyLifecycle(
                ArdentClient(settings.token, api_url=settings.api_url),
                settings.org_id,
                warn=self._warn,
                ledger=ledger,
                borrowed_credentials=not settings.own_credentials,
            )

        return process_runs().lifecycle(key, settings, make)

    # -- preview ------------------------------------------------------------------------------------

    def check(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[Failure]]:
        """The normalised inputs and every problem, each against its property.

        Inputs unknown at preview pass through and are checked when known. The settings are proved once
        per run and scopes are checked against the role's permissions, so that bad input and bad
        configuration fail at preview, before anything is created.
        """
        inputs, problems = validate_inputs(news)
        failures = list(problems)
        if not failures:
            failures.extend(self._settings_failures(inputs))
        if not failures:
            failures.extend(self._sink_failures(inputs))
        return inputs, failures

    def _sink_failures(self, inputs: Mapping[str, Any]) -> list[Failure]:
        """A sink whose client cannot be made here (the aws extra missing, no region) fails at preview."""
        declared = inputs.get("sink")
        if declared is None or is_unknown(declared):
            return []
        sink = SinkSpec.from_input(declared)
        org = inputs.get("org_id")
        problem = sink and self.lifecycle(org if isinstance(org, str) and org else None).sink_problem(sink)
        return [("sink", problem)] if problem else []

    def _settings_failures(self, inputs: Mapping[str, Any]) -> list[Failure]:
        declared = inputs.get("org_id")
        if isinstance(declared, Unknown):
            declared = None  # checked when known; the configured settings are still proved now
        # A problem with an org the program names is that property's problem.
        prop = "org_id" if declared else ""
        try:
            lifecycle = self.lifecycle(declared)
        except ArdentConfigurationError as error:
            return [(prop, str(error))]
        try:
            permissions = lifecycle.verify_settings()
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            return [(prop, _settings_problem(error, lifecycle))]
        except ArdentConnectionError as error:
            if error.sent:
                return []
            return [(prop, f"The Ardent API cannot be reached: {error}")]
        except ArdentError:
            return []  # A passing fault (429, 5xx): create() retries and reports what stays broken.
        role, scopes = inputs.get("role"), inputs.get("scopes")
        if is_unknown(role) or is_unknown(scopes):
            return []
        problem = lifecycle.scope_problem(str(role), scopes or [], permissions)
        return [("scopes", problem)] if problem else []

    def _target(self, news: Mapping[str, Any]) -> tuple[KeyLifecycle, object]:
        """The lifecycle of the org the inputs ask for, and that org (or an unknown value) for ``plan``."""
        declared = news.get("org_id")
        if isinstance(declared, Unknown):
            return self.lifecycle(), declared
        lifecycle = self.lifecycle(declared if isinstance(declared, str) and declared else None)
        return lifecycle, lifecycle.org_id

    def plan(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Plan:
        """Compare real inputs; a changed key input, expiry, a broken token or the rotation window replace."""
        old = KeyState.from_outputs(id_, olds)
        with reporting("plan the change of", describe(old)):
            if old.org_id is None:
                # State from a release that did not record the org: the key lives in the configured default org.
                old = replace(old, org_id=self.lifecycle().org_id)
            lifecycle, target_org = self._target(news)
            return lifecycle.plan(old, news, target_org)

    # -- lifecycle ----------------------------------------------------------------------------------

    def create(self, props: Mapping[str, Any]) -> KeyState:
        """Create (or, the first time, adopt) the key; the state returned holds its token."""
        spec = KeySpec.from_inputs(props)
        with reporting("create", f"Ardent key {spec.name!r}"):
            return self.lifecycle(spec.org_id).create(spec)

    def read(self, id_: str, props: Mapping[str, Any]) -> KeyState | None:
        """The key as its org lists it now, its token carried forward; None when it is gone."""
        old = KeyState.from_outputs(id_, props)
        with reporting("refresh", describe(old)):
            return self.lifecycle(old.org_id).refresh(old)

    def update(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> KeyState:
        """Record changed settings, and revoke the previous key once its grace period is over."""
        old = KeyState.from_outputs(id_, olds)
        with reporting("update", describe(old)):
            return self.lifecycle(old.org_id).update(old, KeySpec.from_inputs(news))

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        """Revoke the key (unless a rotation keeps it for its grace period) and any previous key it kept."""
        old = KeyState.from_outputs(id_, props)
        with reporting("revoke", describe(old)):
            self.lifecycle(old.org_id).delete(old)

    def import_key(self, key_id: str, org_id: str | None = None) -> KeyState:
        """An existing key as state with the inputs that declare it exactly, for ``pulumi import``.

        The key is recorded as adopted (``adopt_key_id``) with ``on_missing_token`` ``keep``: Ardent never shows
        a token again, so the state holds none until the program says ``rotate``. Ardent lists no role either:
        the role is left empty, and the first ``up`` records the one the program declares.
        """
        with reporting("import", f"Ardent key {key_id}"):
            state = self._listed(key_id, org_id)
            self._warn(
                f"Ardent key {state.key_id} ({state.spec.name!r}) was imported without its token: Ardent shows a "
                "token only when a key is created, and lists no role. It is recorded as adopted with onMissingToken "
                "'keep' and publishes no token; set onMissingToken to 'rotate' to replace it at the next `pulumi up` "
                "with a key whose token is published, and declare the key's role. `pulumi import` protects what it "
                "imports unless given --protect=false, and a protected key cannot be replaced: unprotect it first "
                "(`pulumi state unprotect <urn>`, and drop `protect` from the generated code)."
            )
            adopted = replace(
                state.spec,
                adopt_key_id=state.key_id,
                on_missing_token="keep",  # noqa: S106 - an option value, not a password
            )
            return replace(state, spec=adopted)

    def look_up(self, key_id: str, org_id: str | None = None) -> KeyState:
        """An existing key as its org lists it, for ``ApiKey.get``: no token, no role, nothing that adopts it."""
        with reporting("read", f"Ardent key {key_id}"):
            return self._listed(key_id, org_id)

    def _listed(self, key_id: str, org_id: str | None) -> KeyState:
        lifecycle = self.lifecycle(org_id)
        try:
            key = lifecycle.adoptable_key(key_id)
        except KeyAdoptionError as error:
            raise KeyAdoptionError(
                f"org '{lifecycle.org_id}' has no active key with id '{key_id}' (it does not exist, is revoked, or "
                "belongs to another org: name a provider of that org, with --provider for `pulumi import`)."
            ) from error
        days = None
        if key.created_at is not None and key.expires_at is not None:
            lifetime = key.expires_at - key.created_at
            whole = round(lifetime / timedelta(days=1))
            days = whole if abs(lifetime - timedelta(days=whole)) < timedelta(minutes=1) else None
        spec = KeySpec(name=key.name, role="", scopes=tuple(sorted(key.scopes)), expires_in_days=days, org_id=org_id)
        lifecycle.sync_service_clock()
        return lifecycle.listed_state(spec, key, None)


def _settings_problem(error: ArdentError, lifecycle: KeyLifecycle) -> str:
    place = config_place(lifecycle.org_id, own_credentials=not lifecycle.borrowed_credentials)
    return explain_refusal(error, lifecycle.org_id, lifecycle.client.api_url, place, doing="used")
