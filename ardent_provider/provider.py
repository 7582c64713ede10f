"""The dynamic provider behind ``ArdentApiKey``: Pulumi's check/diff/create/read/update/delete on Ardent.

The provider instance is pickled into every resource's state, so it holds nothing: credentials arrive
through :meth:`ArdentApiKeyProvider.configure` in the provider process, and the HTTP client, the shared key
inventory and the service clock live in a per-process :class:`~ardent_provider.session.Session`.

Decisions about age (expired, inside the rotation window, grace period over) use the Ardent service's
clock, read from the ``Date`` header of its answers, so a runner with a skewed clock decides correctly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
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

from . import keys
from .errors import (
    ArdentConfigurationError,
    ArdentError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from .models import ApiKey, CreatedKey, SecretToken, format_time, parse_time
from .session import Session, session_for
from .settings import resolve_settings
from .validation import REPLACING_INPUTS, SETTING_INPUTS, validate_inputs

PROVIDER_KEY = "__provider"
RESOURCE_NAME_KEY = "resource_name"
PREVIOUS_OUTPUTS = ("previous_key_id", "previous_token", "previous_revoke_after")
# The old outputs of resources this process is replacing, by resource name; filled by diff(), read by create().
_predecessors: dict[str, Mapping[str, Any]] = {}
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


def token_fingerprint(token: str | None) -> str | None:
    """A short SHA-256 prefix that tells keys apart without revealing the token."""
    return SecretToken(token).fingerprint if token else None


def key_status(expires_at: datetime | None, now: datetime) -> str:
    """``expired`` once the key's expiry has passed by the service's clock, else ``active``."""
    return "expired" if expires_at is not None and expires_at <= now else "active"


def _inputs_of(props: Mapping[str, Any]) -> dict[str, Any]:
    return {name: props.get(name) for name in (*REPLACING_INPUTS, *SETTING_INPUTS, RESOURCE_NAME_KEY)}


class ArdentApiKeyProvider(ResourceProvider):
    """Creates, reads, rotates and revokes Ardent API keys. A change of key input replaces the key."""

    def __getstate__(self) -> dict[str, Any]:
        """Pickle nothing: settings and connections are per process, never part of state."""
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore; :meth:`configure` supplies the settings."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember where the settings come from; they are read when first needed."""
        self._config_lookup: Callable[[str], object | None] = req.config.get

    def _session(self) -> Session:
        session: Session | None = getattr(self, "_resolved_session", None)
        if session is None:
            lookup = getattr(self, "_config_lookup", None)
            session = session_for(resolve_settings(lookup if lookup is not None else {}))
            # Never pickled (see __getstate__); saves resolving the settings for every resource.
            self._resolved_session = session
        return session

    # -- preview ------------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs; every problem is reported against its property.

        Besides the inputs' own rules, the settings are proved once per run (the token works and may manage
        the org's keys) and scopes are checked against the role's permissions, so that bad input and bad
        configuration fail at preview, before anything is created.
        """
        inputs, problems = validate_inputs(news)
        failures = [CheckFailure(name, reason) for name, reason in problems]
        if failures:
            return CheckResult(inputs, failures)
        try:
            session = self._session()
            permissions = session.preflight()
        except ArdentConfigurationError as error:
            failures.append(CheckFailure("__provider", str(error)))
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            failures.append(CheckFailure("__provider", _settings_problem(error)))
        except ArdentError:
            pass  # A passing fault: create() retries and reports what stays broken.
        else:
            allowed = permissions.get(str(inputs["role"]))
            outside = [scope for scope in inputs["scopes"] if allowed is not None and scope not in allowed]
            if outside:
                failures.append(
                    CheckFailure(
                        "scopes",
                        f"scopes {', '.join(outside)} are not permissions of {inputs['role']}; "
                        f"it has: {', '.join(sorted(allowed or ()))}",
                    )
                )
        return CheckResult(inputs, failures)

    @_plain_errors
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare real inputs; a changed key input, expiry, a broken token or the rotation window replace."""
        replaces = [name for name in REPLACING_INPUTS if olds.get(name) != news.get(name)]
        updates = [name for name in SETTING_INPUTS if olds.get(name) != news.get(name)]
        previous_due = False
        if olds.get("expires_at") or olds.get("previous_key_id") or olds.get("status") in ("expired", "invalid_token"):
            session = self._session()
            now = session.service_now()
            if not replaces:
                replaces.extend(self._age_reasons(olds, news, now))
            previous_due = bool(olds.get("previous_key_id")) and _is_due(olds.get("previous_revoke_after"), now)
        if replaces:
            # create() of the replacement receives only the new inputs; it learns here what it replaces.
            _predecessors[str(news.get(RESOURCE_NAME_KEY))] = olds
        return DiffResult(
            changes=bool(replaces or updates or previous_due),
            replaces=replaces,
            stables=[],
            delete_before_replace=False,
        )

    @staticmethod
    def _age_reasons(olds: Mapping[str, Any], news: Mapping[str, Any], now: datetime) -> list[str]:
        if olds.get("status") == "invalid_token":
            return ["token"]
        expires_at = parse_time(olds.get("expires_at"))
        if olds.get("status") == "expired" or (expires_at is not None and expires_at <= now):
            return ["expires_at"]
        rotate_before = news.get("rotate_before_days")
        if expires_at is not None and rotate_before and expires_at - now <= timedelta(days=rotate_before):
            return ["expires_at"]
        return []

    # -- lifecycle ----------------------------------------------------------------------------------

    @_plain_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create (or, the first time, adopt) the key and return every output, its token included.

        A replacement always creates a new key, even when ``adopt_key_id`` is still declared: the adopted key
        is the one being replaced.
        """
        session = self._session()
        predecessor = _predecessors.pop(str(props.get(RESOURCE_NAME_KEY)), None)
        if props.get("adopt_key_id") and predecessor is None:
            return self._adopt(session, props)
        created = self._create(session, props)
        outs = self._created_outputs(session, props, created)
        if props.get("keep_previous_for_days") and predecessor is not None and predecessor.get("key_id"):
            outs.update(self._keep_previous(session, predecessor, int(props["keep_previous_for_days"])))
        return CreateResult(created.id, outs)

    @staticmethod
    def _create(session: Session, props: Mapping[str, Any]) -> CreatedKey:
        return keys.create_key(
            session,
            name=props["name"],
            role=props["role"],
            scopes=props.get("scopes") or [],
            expires_days=_whole_days(props.get("expires_in_days")),
        )

    @staticmethod
    def _created_outputs(session: Session, props: Mapping[str, Any], created: CreatedKey) -> dict[str, Any]:
        token = created.token.reveal()
        outs = _inputs_of(props)
        outs.update(
            key_id=created.id,
            name=created.name,
            role=created.role_key or props["role"],
            key_prefix=created.key_prefix,
            created_at=format_time(created.created_at),
            expires_at=format_time(created.expires_at),
            status=key_status(created.expires_at, session.service_now()),
            token=token,
            token_fingerprint=token_fingerprint(token),
            previous_key_id=None,
            previous_token=None,
            previous_revoke_after=None,
        )
        return outs

    @staticmethod
    def _keep_previous(session: Session, predecessor: Mapping[str, Any], days: int) -> dict[str, Any]:
        older = predecessor.get("previous_key_id")
        if older:
            keys.revoke_key(session, str(older))
        session.kept_previous_ids.add(str(predecessor["key_id"]))
        return {
            "previous_key_id": predecessor["key_id"],
            "previous_token": predecessor.get("token"),
            "previous_revoke_after": format_time(session.service_now() + timedelta(days=days)),
        }

    def _adopt(self, session: Session, props: dict[str, Any]) -> CreateResult:
        key_id = str(props["adopt_key_id"])
        key = keys.adoptable_key(session, key_id)
        if key.name != props["name"]:
            raise keys.KeyAdoptionError(
                f"Key '{key_id}' is named {key.name!r} but the resource declares name={props['name']!r}; "
                f"set name={key.name!r} to adopt it. Nothing was changed."
            )
        if sorted(key.scopes) != sorted(props.get("scopes") or []):
            raise keys.KeyAdoptionError(
                f"Key '{key_id}' has scopes {sorted(key.scopes)} but the resource declares "
                f"{sorted(props.get('scopes') or [])}; declare the key's own scopes to adopt it. Nothing was changed."
            )
        token = props.get("adopt_token")
        if token:
            if not keys.token_matches_key(session, key, token):
                raise keys.KeyAdoptionError(
                    f"adopt_token is not the token of key '{key_id}' (or no longer authenticates). Nothing was changed."
                )
        elif props.get("on_missing_token", "error") == "error":
            raise keys.require_adoption_token(key_id)
        elif props.get("on_missing_token") == "rotate":
            created = self._create(session, props)
            keys.revoke_key(session, key_id)
            return CreateResult(created.id, self._created_outputs(session, props, created))
        outs = _inputs_of(props)
        outs.update(self._listed_outputs(session, key, token))
        outs.update(role=props["role"], previous_key_id=None, previous_token=None, previous_revoke_after=None)
        return CreateResult(key.id, outs)

    @staticmethod
    def _listed_outputs(session: Session, key: ApiKey, token: str | None) -> dict[str, Any]:
        status = key_status(key.expires_at, session.service_now())
        if token and not token.startswith(key.key_prefix):
            status = "invalid_token"
        return {
            "key_id": key.id,
            "name": key.name,
            "key_prefix": key.key_prefix,
            "created_at": format_time(key.created_at),
            "expires_at": format_time(key.expires_at),
            "status": status,
            "token": token or None,
            "token_fingerprint": token_fingerprint(token),
        }

    @_plain_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the key in the org's list. A key gone (revoked or deleted) leaves state; the token is kept."""
        session = self._session()
        key = session.inventory.find(id_)
        if key is None:
            pulumi.log.warn(
                f"Ardent key {id_} ({props.get('name')!r}) is no longer active in org {session.org_id}: it was revoked "
                "or deleted outside Pulumi. It is dropped from the state; the next `pulumi up` creates a new key."
            )
            return ReadResult(None, {})
        outs = {name: value for name, value in props.items() if name != PROVIDER_KEY}
        outs.update(self._listed_outputs(session, key, props.get("token")))
        if outs["status"] == "expired":
            pulumi.log.warn(
                f"Ardent key {id_} ({key.name!r}) expired at {outs['expires_at']}; the next `pulumi up` replaces it."
            )
        elif outs["status"] == "invalid_token":
            pulumi.log.warn(
                f"The token stored for Ardent key {id_} ({key.name!r}) is not that key's token any more; the next "
                "`pulumi up` replaces the key so that a working token is published."
            )
        previous = props.get("previous_key_id")
        if previous and session.inventory.find(str(previous)) is None:
            outs.update(dict.fromkeys(PREVIOUS_OUTPUTS))
        return ReadResult(id_, outs)

    @_plain_errors
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record changed settings, and revoke the previous key once its grace period is over."""
        session = self._session()
        outs = {name: value for name, value in olds.items() if name != PROVIDER_KEY}
        outs.update(_inputs_of(news))
        previous = olds.get("previous_key_id")
        if previous and _is_due(olds.get("previous_revoke_after"), session.service_now()):
            keys.revoke_key(session, str(previous))
            outs.update(dict.fromkeys(PREVIOUS_OUTPUTS))
        return UpdateResult(outs)

    @_plain_errors
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key (unless a rotation keeps it for its grace period) and any previous key it kept."""
        session = self._session()
        if id_ not in session.kept_previous_ids:
            keys.revoke_key(session, id_)
        previous = props.get("previous_key_id")
        if previous:
            keys.revoke_key(session, str(previous))


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


def _whole_days(value: Any) -> int | None:
    # Pulumi carries every number as a float across the wire, even after check() made it an int.
    return None if value is None else int(value)


def _is_due(moment: Any, now: datetime) -> bool:
    due = parse_time(moment)
    return due is not None and due <= now
