"""The dynamic provider behind ``ArdentApiKey``: Pulumi's check/diff/create/read/delete mapped onto Ardent.

The provider instance is pickled into every resource's state, so it holds nothing: credentials arrive
through :meth:`ArdentApiKeyProvider.configure` in the provider process, and the HTTP client and the shared
key inventory live in a per-process registry, never in the instance.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
)

from .client import ArdentClient
from .errors import ArdentConfigurationError, ArdentError, NotFoundError
from .inventory import KeyInventory
from .models import ApiKey, CreatedKey, SecretToken
from .settings import Settings, resolve_settings
from .validation import INPUT_NAMES, validate_inputs

PROVIDER_KEY = "__provider"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class _Session:
    """Per-process connection state for one set of settings."""

    settings: Settings
    client: ArdentClient
    inventory: KeyInventory


_sessions: dict[Settings, _Session] = {}
_sessions_lock = threading.Lock()


def _session_for(settings: Settings) -> _Session:
    with _sessions_lock:
        session = _sessions.get(settings)
        if session is None:
            client = ArdentClient(settings.token, api_url=settings.api_url)
            inventory = KeyInventory(functools.partial(client.list_keys, settings.org_id))
            session = _Session(settings, client, inventory)
            _sessions[settings] = session
        return session


def _plain_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Let Ardent errors reach the user as their one-line message, without this module's frames."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ArdentError as error:
            raise error.with_traceback(None) from None

    return wrapper


def key_status(key: ApiKey | CreatedKey, now: datetime) -> str:
    """``expired`` once the key's expiry has passed by the service's clock, else ``active``."""
    return "expired" if key.expires_at is not None and key.expires_at <= now else "active"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class ArdentApiKeyProvider(ResourceProvider):
    """Creates, reads and revokes Ardent API keys. Any change of input replaces the key."""

    def __init__(self) -> None:
        super().__init__()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle nothing: settings and connections are per process, never part of state."""
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore; :meth:`configure` supplies the settings."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember where the settings come from; they are read when first needed."""
        self._config_lookup: Callable[[str], object | None] = req.config.get

    def _session(self) -> _Session:
        lookup = getattr(self, "_config_lookup", None)
        settings = resolve_settings(lookup if lookup is not None else {})
        return _session_for(settings)

    # -- preview-time validation ----------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs; every problem is reported against its property."""
        inputs, problems = validate_inputs(news)
        failures = [CheckFailure(name, reason) for name, reason in problems]
        if not failures:
            try:
                self._session()
            except ArdentConfigurationError as error:
                failures.append(CheckFailure("__provider", str(error)))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare only real inputs; Ardent cannot update a key, so any change means a new key."""
        changed = [name for name in INPUT_NAMES if olds.get(name) != news.get(name)]
        return DiffResult(changes=bool(changed), replaces=changed, stables=[], delete_before_replace=False)

    # -- lifecycle ------------------------------------------------------------------------------

    @_plain_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the key and return every output, its token included (marked secret by the resource)."""
        session = self._session()
        created = session.client.create_key(
            session.settings.org_id,
            name=props["name"],
            role=props["role"],
            scopes=props.get("scopes") or [],
            expires_days=props.get("expires_in_days"),
        )
        session.inventory.invalidate()
        outs = {name: props.get(name) for name in INPUT_NAMES}
        outs.update(
            key_id=created.id,
            name=created.name,
            role=created.role_key or props["role"],
            key_prefix=created.key_prefix,
            created_at=_iso(created.created_at),
            expires_at=_iso(created.expires_at),
            status=key_status(created, session.client.server_now()),
            token=created.token.reveal(),
        )
        return CreateResult(created.id, outs)

    @_plain_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the key in the org's list; a key that is no longer there is gone from state."""
        session = self._session()
        key = session.inventory.find(id_)
        if key is None:
            return ReadResult(None, {})
        outs = {name: value for name, value in props.items() if name != PROVIDER_KEY}
        outs.update(
            key_id=key.id,
            name=key.name,
            key_prefix=key.key_prefix,
            created_at=_iso(key.created_at),
            expires_at=_iso(key.expires_at),
            status=key_status(key, session.client.server_now()),
        )
        return ReadResult(id_, outs)

    @_plain_errors
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key; a key that is already revoked or gone counts as done."""
        session = self._session()
        try:
            session.client.revoke_key(session.settings.org_id, id_)
        except NotFoundError:
            pass
        finally:
            session.inventory.invalidate()


def token_of(outputs: Mapping[str, Any]) -> SecretToken | None:
    """The token stored in a resource's outputs, wrapped so it cannot be printed by accident."""
    token = outputs.get("token")
    return SecretToken(token) if isinstance(token, str) and token else None
