"""Per-process connection state of the provider: one client, one key inventory, one service clock.

A session is shared by every resource of a run that uses the same settings. It lives only in the provider
process and is never pickled into state.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from .client import ArdentClient
from .errors import PermissionDeniedError
from .inventory import KeyInventory
from .settings import Settings


@dataclass
class Session:
    """The client, the shared inventory, and what this process did that later steps of the run need."""

    settings: Settings
    client: ArdentClient
    inventory: KeyInventory
    created_ids: set[str] = field(default_factory=set)
    kept_previous_ids: set[str] = field(default_factory=set)
    _name_locks: defaultdict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock_seen: bool = False
    _role_permissions: dict[str, frozenset[str]] | None = None

    @property
    def org_id(self) -> str:
        """The org every call of this session addresses."""
        return self.settings.org_id

    def name_lock(self, name: str) -> threading.Lock:
        """Creates of keys sharing a name run one at a time, so reconciliation never takes a sibling's key."""
        with self._lock:
            return self._name_locks[name]

    def remember_created(self, key_id: str) -> None:
        """Record a key this process created, so reconciliation never mistakes it for an orphan."""
        with self._lock:
            self.created_ids.add(key_id)

    def is_own(self, key_id: str) -> bool:
        """Whether this process created the key."""
        with self._lock:
            return key_id in self.created_ids

    def preflight(self) -> dict[str, frozenset[str]]:
        """Prove the settings work (the token may read the org's keys) and learn each role's permissions.

        Done once per process; raises the client's errors (401, 403, ...) when the settings do not work.
        """
        with self._lock:
            if self._role_permissions is not None:
                return self._role_permissions
        self.inventory.snapshot()
        try:
            roles = self.client.list_roles(self.org_id)
        except PermissionDeniedError:
            roles = []  # A key scoped to api_keys.* may not read roles; the server still checks scopes.
        permissions = {role.key: frozenset(role.permissions) for role in roles}
        with self._lock:
            self._role_permissions = permissions
            self._clock_seen = True
        return permissions

    def service_now(self) -> datetime:
        """The Ardent service's clock (from its ``Date`` headers), not this machine's."""
        if not self._clock_seen:
            self.inventory.snapshot()
            self._clock_seen = True
        return self.client.server_now()


_sessions: dict[Settings, Session] = {}
_sessions_lock = threading.Lock()


def session_for(settings: Settings) -> Session:
    """The process's session for these settings, created on first use."""
    with _sessions_lock:
        session = _sessions.get(settings)
        if session is None:
            client = ArdentClient(settings.token, api_url=settings.api_url)
            inventory = KeyInventory(functools.partial(client.list_keys, settings.org_id))
            session = Session(settings, client, inventory)
            _sessions[settings] = session
        return session
