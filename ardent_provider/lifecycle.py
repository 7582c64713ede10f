"""The key lifecycle as one Pulumi-free object: create, adopt, replace, refresh, update and revoke.

:class:`KeyLifecycle` serves every key of one org in one provider process (one run). Its client and clock
are injected, so every branch runs in-process against the emulator. It owns what a run must remember
between steps: the replacement ledger (what ``diff`` learnt, for ``create``), the keys this process
created, and the replaced keys it keeps for a grace period.

Two rules hold throughout:

* A key is never revoked unless it is provably this stack's: its id is recorded in state, or this process
  created it. After an ambiguous create failure, keys of the same name that appeared meanwhile may belong to
  another pipeline; they are left active and named in a warning, and ``ardent-keys drift`` reports them.
* A create that has minted a key returns it with its token. Revoking some older key inside create never
  fails the create: a failed revocation is recorded in ``pending_revoke_key_ids`` and retried on the next
  ``pulumi up``, with a warning naming the key.

A replaced key kept for its grace period must survive a run that is interrupted between the replacement's
create and the old key's delete, so the decision to keep it is never only in memory: the replacement's state
records it (``previous_key_id``) and is the proof. ``delete`` leaves a key only when a state this run has seen
holds it that way (the engine diffs a program's resources before it deletes what an earlier, interrupted run
left pending delete), or when this run's ``diff`` decided a delete-before-replace whose create keeps it; a
destroy, or a key no state holds, is revoked. ``delete`` and ``create`` decide whether a replaced key is kept by
one rule (a key is kept only by a replacement in its own org), and a ``create`` after a ``delete`` that kept the
key records it whatever it sees, so the two cannot disagree. A previous key that is no longer active is dropped from the
outputs at the next ``diff``, update or refresh, so no output names a revoked key's token.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .client import ArdentClient
from .errors import (
    ArdentAPIError,
    ArdentConfigurationError,
    ArdentError,
    ArdentTransportError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from .inventory import KeyInventory
from .models import ApiKey, CreatedKey, format_time, parse_time
from .secret_sink import SinkPool, fingerprint, names_written_secret
from .state import (
    ACTIVE,
    EXPIRED,
    INVALID_TOKEN,
    REPLACING_INPUTS,
    SETTING_INPUTS,
    SINK_INPUT,
    SINK_MISMATCH,
    TOKEN_LOST,
    KeySpec,
    KeyState,
    SinkSpec,
    is_unknown,
    kept_by_update,
    whole_number,
)

CREATE_ATTEMPTS = 5
# The Date header has one-second resolution; a key created during an attempt may look up to that much older.
CLOCK_SLACK = timedelta(seconds=2)

Warn = Callable[[str], None]


class KeyAdoptionError(ArdentError):
    """A key named by ``adopt_key_id`` cannot be brought under management; nothing was changed."""


@dataclass(frozen=True)
class Plan:
    """What ``diff`` decided: whether anything changes, and which properties force a new key."""

    changes: bool
    replaces: tuple[str, ...]
    updates: tuple[str, ...] = ()
    """Properties that change without a new key (settings, a due previous key, pending revocations)."""


def is_ambiguous(error: ArdentError) -> bool:
    """Whether a failed create may nonetheless have created the key on the server."""
    if isinstance(error, ArdentTransportError):
        return error.sent
    return isinstance(error, ServerError)


def key_status(expires_at: datetime | None, now: datetime) -> str:
    """``expired`` once the key's expiry has passed by the service's clock, else ``active``."""
    return EXPIRED if expires_at is not None and expires_at <= now else ACTIVE


@dataclass(frozen=True)
class Replacement:
    """A key being replaced in this run, how long its replacement's inputs keep it (None: not at all), and where.

    ``target_org`` is the org the replacement is created in (None: not known when ``diff`` ran); a key is kept
    only for a replacement in its own org. ``kept_at_delete`` notes that a delete-before-replace's ``delete``
    already left the key active for the replacement: its ``create`` must then record it, whatever it sees.
    """

    replaced: KeyState
    keep_days: int | None = None
    target_org: str | None = None
    kept_at_delete: bool = False
    sink: SinkSpec | None = None
    """The replacement's sink: a delete that comes first leaves that secret for the replacement to write."""


class ReplacementLedger:
    """What one run learnt about replacements, shared by the lifecycles of every org in the run.

    ``create`` of a replacement receives only the new inputs; ``diff`` saw the old outputs and records them
    here (by the replacing resource's identity), so that ``create`` can keep the old key for its grace period
    and a ``delete`` that comes first (delete-before-replace) knows the key is about to be kept. The ledger
    also holds the keys that a state of this run keeps as its previous key (a replacement just made, or a
    recorded state the engine diffed): ``delete`` leaves those to that state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str | None, str], Replacement] = {}
        self._held: set[str] = set()

    def record(
        self,
        identity: tuple[str | None, str],
        replaced: KeyState,
        keep_days: int | None = None,
        target_org: str | None = None,
        sink: SinkSpec | None = None,
    ) -> None:
        """Remember the state of the key that the resource at ``identity`` is replacing, in ``target_org``."""
        with self._lock:
            self._entries[identity] = Replacement(replaced, keep_days, target_org, sink=sink)

    def take(self, identity: tuple[str | None, str]) -> Replacement | None:
        """The replacement the resource at ``identity`` makes, once; None when it replaces nothing."""
        with self._lock:
            return self._entries.pop(identity, None)

    def kept_at_delete(self, key_id: str) -> None:
        """Note that ``delete`` left ``key_id`` active for its pending replacement to record as previous key."""
        with self._lock:
            for identity, entry in self._entries.items():
                if entry.replaced.key_id == key_id:
                    self._entries[identity] = replace(entry, kept_at_delete=True)

    def replacing(self, key_id: str) -> Replacement | None:
        """The replacement of ``key_id`` that ``diff`` decided and ``create`` has not made yet, if any."""
        with self._lock:
            return next((entry for entry in self._entries.values() if entry.replaced.key_id == key_id), None)

    def hold(self, key_id: str) -> None:
        """Note that a state of this run keeps ``key_id`` as its previous key, and revokes it when due."""
        with self._lock:
            self._held.add(key_id)

    def held(self, key_id: str) -> bool:
        """Whether a state of this run keeps ``key_id`` as its previous key."""
        with self._lock:
            return key_id in self._held


class KeyLifecycle:
    """Every key operation of one org, with the memory one run needs. Thread-safe."""

    def __init__(
        self,
        client: ArdentClient,
        org_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
        warn: Warn | None = None,
        sleep: Callable[[float], None] = time.sleep,
        inventory_max_age: float = 10.0,
        ledger: ReplacementLedger | None = None,
        borrowed_credentials: bool = False,
        sinks: SinkPool | None = None,
    ) -> None:
        self.client = client
        # The secrets that hold the tokens of keys with a sink; AWS is reached only for such keys.
        self.sinks = sinks or SinkPool()
        self.org_id = org_id
        # Shared by the lifecycles of every org in a run, so a key moved to another org finds its predecessor.
        self.ledger = ledger or ReplacementLedger()
        # The default token tried against an org with no credentials of its own: a refusal is expected there.
        self.borrowed_credentials = borrowed_credentials
        self._clock = clock or client.server_now
        self._warn: Warn = warn or (lambda _message: None)
        self._sleep = sleep
        self._inventory_max_age = inventory_max_age
        self._lock = threading.Lock()
        self._inventories: dict[str, KeyInventory] = {}
        self._name_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._created_ids: set[str] = set()
        self._revoked_ids: set[str] = set()
        self._clock_synced = False
        self._role_permissions: dict[str, frozenset[str]] | None = None

    # -- the org's keys and the service clock ---------------------------------------------------

    def inventory(self, org_id: str | None = None) -> KeyInventory:
        """The shared, short-lived view of an org's keys (this lifecycle's org by default)."""
        org = org_id or self.org_id
        with self._lock:
            inventory = self._inventories.get(org)
            if inventory is None:
                inventory = KeyInventory(lambda: self.client.list_keys(org), max_age=self._inventory_max_age)
                self._inventories[org] = inventory
            return inventory

    def sync_service_clock(self) -> None:
        """Make sure the service's clock has been read (one list call per run, shared with reads)."""
        with self._lock:
            if self._clock_synced:
                return
        self.inventory().snapshot()
        with self._lock:
            self._clock_synced = True

    def service_now(self) -> datetime:
        """The service's time as last synchronised (see :meth:`sync_service_clock`)."""
        return self._clock()

    # -- preview --------------------------------------------------------------------------------

    def verify_settings(self) -> dict[str, frozenset[str]]:
        """Prove the settings work (the token may list the org's keys) and learn each role's permissions.

        Done once per run; raises the client's errors (401, 403, unreachable, ...) when the settings do not
        work. A token scoped to ``api_keys.*`` may not read roles: then no role is known and the server
        checks scopes at create.
        """
        with self._lock:
            if self._role_permissions is not None:
                return self._role_permissions
        self.sync_service_clock()
        try:
            roles = self.client.list_roles(self.org_id)
        except PermissionDeniedError:
            roles = []
        permissions = {role.key: frozenset(role.permissions) for role in roles}
        with self._lock:
            self._role_permissions = permissions
        return permissions

    def plan(self, old: KeyState, news: Mapping[str, Any], target_org: object = None) -> Plan:
        """Decide what an ``up`` does to a recorded key given the new (checked, maybe unknown) inputs.

        A changed key input replaces the key; so do another org (``target_org``: the org the inputs ask
        for, this lifecycle's by default, or an unknown value), an expired key, a stored token that is not
        the key's, and the rotation window. A due grace period, a previous key that is no longer active or a
        pending revocation is an update. When the key is replaced, the ledger remembers the old state for
        :meth:`create` (and a delete-before-replace's :meth:`delete`); a previous key the state keeps is
        noted there too, so that a :meth:`delete` left pending by an interrupted run does not revoke it.
        """
        recorded = old.spec.to_inputs()
        # An imported key records no role (Ardent lists none): the role the program declares is recorded.
        compared = [name for name in REPLACING_INPUTS if name != "role" or old.spec.role]
        replaces = [name for name in compared if recorded.get(name) != news.get(name)]
        updates = [name for name in SETTING_INPUTS if recorded.get(name) != news.get(name)]
        if not old.spec.role and news.get("role"):
            updates.append("role")
        sink_replaces, sink_updates = self._sink_changes(old, news)
        replaces.extend(sink_replaces)
        updates.extend(sink_updates)
        if old.token is None and old.status == ACTIVE and not replaces and old.spec.sink is None:
            replaces.extend(self._missing_token_reasons(old, news.get("on_missing_token")))
        if replaces and not old.spec.role and not news.get("role"):
            raise KeyAdoptionError(
                f"Ardent key {old.key_id} ({old.spec.name!r}) has to be replaced ({', '.join(replaces)}), but no role "
                "is recorded for it (it was imported or adopted, and Ardent lists no role): declare its role so that "
                "the new key gets one. Nothing was changed."
            )
        target = target_org if target_org is not None else self.org_id
        if old.org_id is not None and old.org_id != target:
            replaces.append("org_id")
        previous_stale = False
        if old.expires_at or old.previous_key_id or old.status != ACTIVE:
            self.sync_service_clock()
            now = self.service_now()
            if not replaces:
                replaces.extend(self._age_reasons(old, news.get("rotate_before_days"), now))
            if old.previous_key_id is not None:
                self.ledger.hold(old.previous_key_id)
                previous_stale = _is_due(old.previous_revoke_after, now) or self._previous_gone(old, report=False)
        if replaces:
            keep_days = whole_number(news.get("keep_previous_for_days"))
            # A state of an earlier release records no org: its key lives in this (the configured) org.
            recorded_old = replace(old, org_id=old.org_id or self.org_id)
            known_target = target if isinstance(target, str) else None
            new_spec = KeySpec.from_inputs(news)
            self.ledger.record(new_spec.identity, recorded_old, keep_days, known_target, new_spec.sink)
        if previous_stale:
            updates.append("previous_key_id")
        if old.pending_revoke_key_ids:
            updates.append("pending_revoke_key_ids")
        return Plan(changes=bool(replaces or updates), replaces=tuple(replaces), updates=tuple(updates))

    @staticmethod
    def _sink_changes(old: KeyState, news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """What a change of ``sink`` needs: (replaces, updates).

        Another secret (or region) needs a new token, as does adding a sink to a key held without its token; adding
        one to a key whose token the stack holds writes that token. Removing the sink leaves the stack without a
        token: the key is replaced, unless ``on_missing_token`` is ``keep``.
        """
        declared = news.get(SINK_INPUT)
        if is_unknown(declared):
            return [], [SINK_INPUT]
        new, recorded = SinkSpec.from_input(declared), old.spec.sink
        if new == recorded:
            return [], []
        if recorded is None:
            return ([], [SINK_INPUT]) if old.token else ([SINK_INPUT], [])
        if new is None:
            return ([], [SINK_INPUT]) if news.get("on_missing_token") == "keep" else ([SINK_INPUT], [])
        same = recorded.same_secret(new) or names_written_secret(new, old.sink_secret_arn)
        return ([], [SINK_INPUT]) if same else ([SINK_INPUT], [])

    @staticmethod
    def _missing_token_reasons(old: KeyState, on_missing_token: Any) -> list[str]:
        """A key held without its token (imported, or adopted with ``keep``) follows ``on_missing_token``."""
        if on_missing_token == "rotate":  # noqa: S105 - an option value
            return ["token"]
        # "error" is what an adoption still declared defaults to; a program that dropped the adoption says nothing.
        if on_missing_token == "error" and old.spec.on_missing_token == "keep":  # noqa: S105
            raise KeyAdoptionError(
                f"Ardent key {old.key_id} ({old.spec.name!r}) is held without its token (it was imported, or "
                "adopted with on_missing_token 'keep'), and Ardent cannot show the token again: set "
                "on_missing_token to 'keep' (manage it, publish no token) or to 'rotate' (replace it with a new key "
                "whose token is published), beside adopt_key_id. Nothing was changed."
            )
        return []

    @staticmethod
    def _age_reasons(old: KeyState, rotate_before: Any, now: datetime) -> list[str]:
        if old.status in TOKEN_LOST:
            return ["token"]
        expires_at = parse_time(old.expires_at)
        if old.status == EXPIRED or (expires_at is not None and expires_at <= now):
            return ["expires_at"]
        window = rotate_before if isinstance(rotate_before, int | float) and not isinstance(rotate_before, bool) else 0
        if expires_at is not None and window and expires_at - now <= timedelta(days=window):
            return ["expires_at"]
        return []

    # -- create ---------------------------------------------------------------------------------

    def create(self, spec: KeySpec) -> KeyState:
        """Create (or, the first time, adopt) the key; the state returned holds its token.

        A replacement always creates a new key, even when ``adopt_key_id`` is still declared: the adopted
        key is the one being replaced.
        """
        if spec.sink is not None:
            self.sink_problem(spec.sink, raise_it=True)
        replacement = self.ledger.take(spec.identity)
        if spec.adopt_key_id and replacement is None:
            return self._adopt(spec)
        if replacement is None:
            return self._store(self._created_state(spec, self.mint(spec)), new_key=True)
        replaced = replacement.replaced
        if replacement.kept_at_delete and replaced.org_id != self.org_id:
            # Only a replacement in the key's own org keeps it; this one is elsewhere, so nothing would hold it.
            # Revoked before the new key exists, so that a failure here loses no token.
            self.revoke(replaced.key_id, replaced.org_id)
            replacement = replace(replacement, kept_at_delete=False)
        # The delete that came first already kept the key: this create records it whatever the org lists now (a
        # key revoked or expired meanwhile is dropped from the outputs at the next diff or refresh). Otherwise
        # checked before the new key exists, against the list the plan already read.
        keep = replacement.kept_at_delete or self._keepable(replacement)
        state = self._store(self._created_state(spec, self.mint(spec)), new_key=True)
        if not keep:
            return state
        return self._keep_replaced(state, replaced, replacement.keep_days or 0)

    def sink_problem(self, spec: SinkSpec, *, raise_it: bool = False) -> str | None:
        """Why no client for the sink can be made (the aws extra missing, no region); None when one can.

        Checked before a key is created, so that such a problem creates and revokes nothing.
        """
        try:
            self.sinks.sink(spec).client  # noqa: B018 - made now, and kept for the write
        except ArdentError as error:
            if raise_it:
                raise
            return str(error)
        return None

    def _store(self, state: KeyState, *, new_key: bool) -> KeyState:
        """With a sink, the token written to it and taken out of the state; without one, ``state`` as it is.

        When the write fails, a key this run just created (``new_key``) is revoked before the error is raised: its
        token would have no holder. Its token is in hand, which proves it is this run's.
        """
        sink_spec = state.spec.sink
        if sink_spec is None:
            return state
        if state.token is None:
            raise KeyAdoptionError(
                f"Ardent key {state.key_id} ({state.spec.name!r}) has a sink, but its token is not known (it was "
                "adopted without adopt_token): give adopt_token, or set on_missing_token to 'rotate' so that a new "
                "key's token is written. Nothing was written."
            )
        org = state.org_id or self.org_id
        sink = self.sinks.sink(sink_spec)
        if not new_key and state.previous_key_id and state.previous_token:
            # A sink added during a grace period: the kept key's token goes first, so that it becomes AWSPREVIOUS
            # and still has a holder until the key is revoked.
            sink.write(state.previous_token, key_id=state.previous_key_id, org_id=org)
        try:
            written = sink.write(state.token, key_id=state.key_id, org_id=org)
        except ArdentError as error:
            if new_key:
                try:
                    self.revoke(state.key_id)
                except ArdentError as revoke_error:
                    error.add_note(
                        f"The new Ardent key {state.key_id} could not be revoked ({revoke_error}): it is active and "
                        "nothing holds its token. Revoke it with `ardent-keys revoke`."
                    )
                else:
                    error.add_note(f"The new Ardent key {state.key_id} was revoked: no key is left without its token.")
                    error.add_note(sink.withdraw(state.key_id, org) + ".")
            raise
        return replace(
            state,
            token=None,
            previous_token=None,
            stored_fingerprint=fingerprint(state.token),
            sink_secret_arn=written.secret_arn,
            sink_version_id=written.version_id,
        )

    def mint(self, spec: KeySpec) -> CreatedKey:
        """Create a key in Ardent, retrying after ambiguous failures without ever revoking a key.

        Ardent has no idempotency key, so a failed attempt (dropped connection, timeout, 5xx) may still have
        created a key whose token never arrived. Keys of the same name that appeared since such an attempt
        may as well be another pipeline's, so they are left active and named in a warning.
        """
        with self._name_lock(spec.name):
            ambiguous_since: datetime | None = None
            failures = 0
            created: CreatedKey | None = None
            try:
                for attempt in range(CREATE_ATTEMPTS):
                    began = self.service_now() - CLOCK_SLACK
                    try:
                        created = self.client.create_key(
                            self.org_id,
                            name=spec.name,
                            role=spec.role,
                            scopes=spec.scopes,
                            expires_days=spec.expires_in_days,
                        )
                    except (ArdentTransportError, ArdentAPIError) as error:
                        if not is_ambiguous(error) or attempt == CREATE_ATTEMPTS - 1:
                            raise
                        ambiguous_since = ambiguous_since or began
                        failures += 1
                        self._sleep(min(2.0, 0.25 * 2**attempt))
                        continue
                    break
            except ArdentError as error:
                if is_ambiguous(error):
                    ambiguous_since = ambiguous_since or began
                    failures += 1
                if ambiguous_since is not None:
                    left = self._report_left_behind(spec.name, ambiguous_since, failures)
                    error.add_note(
                        f"{failures} attempt(s) failed without an answer; keys named {spec.name!r} that appeared "
                        f"meanwhile were left active: {', '.join(left) or 'none so far'}."
                    )
                raise
            assert created is not None
            with self._lock:
                self._created_ids.add(created.id)
            self.inventory().invalidate()
            if ambiguous_since is not None:
                self._report_left_behind(spec.name, ambiguous_since, failures)
            return created

    def _report_left_behind(self, name: str, since: datetime, failures: int) -> list[str]:
        """Warn about keys a failed attempt may have left, by id; they are never revoked. Their ids, sorted."""
        suspects = sorted(self._appeared_since(name, since))
        if suspects:
            self._warn(
                f"A create of Ardent key {name!r} failed without an answer ({failures} time(s)) and may have "
                f"created a key whose token never arrived. Key(s) {', '.join(suspects)} named {name!r} appeared "
                f"in org {self.org_id} meanwhile; they may be that attempt's or another pipeline's, so they were "
                "left active. `ardent-keys drift` lists them as unmanaged; revoke them with `ardent-keys revoke` "
                "once no other stack claims them."
            )
        else:
            self._warn(
                f"A create of Ardent key {name!r} failed without an answer ({failures} time(s)). No other key of "
                f"that name has appeared in org {self.org_id} so far, but the service may still complete that "
                "attempt; `ardent-keys drift` would then list the key as unmanaged."
            )
        return suspects

    def _appeared_since(self, name: str, since: datetime) -> dict[str, ApiKey]:
        try:
            listed = self.client.list_keys(self.org_id)
        except ArdentError as error:
            self._warn(f"Could not list org {self.org_id} to look for a key left by a failed create: {error}")
            return {}
        with self._lock:
            own = set(self._created_ids)
        return {
            key.id: key
            for key in listed
            if key.name == name and key.created_at is not None and key.created_at >= since and key.id not in own
        }

    def _created_state(self, spec: KeySpec, created: CreatedKey) -> KeyState:
        token = created.token.reveal()
        return KeyState(
            spec=replace(spec, name=created.name or spec.name, role=created.role_key or spec.role),
            key_id=created.id,
            org_id=self.org_id,
            key_prefix=created.key_prefix,
            created_at=format_time(created.created_at),
            expires_at=format_time(created.expires_at),
            status=key_status(created.expires_at, self.service_now()),
            token=token,
        )

    def _keepable(self, replacement: Replacement) -> bool:
        """Whether the replaced key can be kept for a grace period; the one rule of ``delete`` and ``create``.

        It can when the replacement's inputs ask for a grace period, the replacement is created in the key's
        own org, the key has not expired, and its org lists it: the list is the proof that it is still active (a
        run interrupted before may have revoked it).
        """
        replaced = replacement.replaced
        org = replaced.org_id or self.org_id
        if not replacement.keep_days or replaced.status != ACTIVE or replacement.target_org != org:
            return False
        if _is_due(replaced.expires_at, self.service_now()):
            return False
        try:
            return replaced.key_id in self.inventory(org).snapshot()
        except ArdentError as error:
            self._warn(
                f"Could not list org {org} to check that the replaced Ardent key {replaced.key_id} is still "
                f"active ({error}); it is not kept for a grace period."
            )
            return False

    def _keep_replaced(self, state: KeyState, replaced: KeyState, days: int) -> KeyState:
        """Record the replaced key as the new key's previous key, kept valid for ``days``."""
        self.ledger.hold(replaced.key_id)
        # The kept key's own predecessor and leftovers are now this resource's to revoke.
        handed_over = [*filter(None, [replaced.previous_key_id]), *replaced.pending_revoke_key_ids]
        return replace(
            state,
            previous_key_id=replaced.key_id,
            previous_token=replaced.token,
            previous_revoke_after=format_time(self.service_now() + timedelta(days=days)),
            pending_revoke_key_ids=self.revoke_or_defer(handed_over, reason="an older key of a rotated resource"),
        )

    def _adopt(self, spec: KeySpec) -> KeyState:
        assert spec.adopt_key_id is not None
        key = self.adoptable_key(spec.adopt_key_id)
        if key.name != spec.name:
            raise KeyAdoptionError(
                f"Key '{key.id}' is named {key.name!r} but the resource declares name={spec.name!r}; "
                f"set name={key.name!r} to adopt it. Nothing was changed."
            )
        if sorted(key.scopes) != sorted(spec.scopes):
            raise KeyAdoptionError(
                f"Key '{key.id}' has scopes {sorted(key.scopes)} but the resource declares {sorted(spec.scopes)}; "
                "declare the key's own scopes to adopt it. Nothing was changed."
            )
        token = spec.adopt_token
        if token:
            if not self.token_matches_key(key, token):
                raise KeyAdoptionError(
                    f"adopt_token is not the token of key '{key.id}' (or no longer authenticates). Nothing was changed."
                )
        elif (spec.on_missing_token or "error") == "error":
            raise KeyAdoptionError(
                f"Key '{key.id}' is adopted without its token, and its token cannot be read back from Ardent: pass "
                "adopt_token=pulumi.Output.secret(...) or set on_missing_token to 'rotate' (replace it with a new "
                "key) or 'keep' (manage it without publishing a token). Nothing was changed."
            )
        elif spec.on_missing_token == "rotate":  # noqa: S105 - an option value
            state = self._store(self._created_state(spec, self.mint(spec)), new_key=True)
            return replace(state, pending_revoke_key_ids=self.revoke_or_defer([key.id], reason="the adopted key"))
        else:
            self._warn(
                f"Ardent key {key.id} ({key.name!r}) is adopted without its token: the key is managed, but no token "
                "is published (token stays empty)."
            )
        return self._store(self.listed_state(spec, key, token), new_key=False)

    def adoptable_key(self, key_id: str) -> ApiKey:
        """The existing key to adopt, or a clear error when it does not exist, is revoked or is elsewhere."""
        inventory = self.inventory()
        inventory.invalidate()
        key = inventory.find(key_id)
        if key is None:
            raise KeyAdoptionError(
                f"Cannot adopt key '{key_id}': org '{self.org_id}' has no active key with that id (it does not "
                "exist, is revoked, or belongs to another org). Nothing was changed; check adopt_key_id."
            )
        return key

    def token_matches_key(self, key: ApiKey, token: str) -> bool:
        """Whether ``token`` is the secret of ``key`` and still authenticates."""
        if not key.key_prefix or not token.startswith(key.key_prefix):
            return False
        with self.client.with_token(token) as probe:
            try:
                probe.get_org(self.org_id)
            except AuthenticationError:
                return False
            except PermissionDeniedError:
                return True  # authenticated; the key may simply not read the org
        return True

    def listed_state(self, spec: KeySpec, key: ApiKey, token: str | None) -> KeyState:
        """The state of a key as the org lists it, declared by ``spec``, with ``token`` if known."""
        status = key_status(key.expires_at, self.service_now())
        if token and not token.startswith(key.key_prefix):
            status = INVALID_TOKEN
        return KeyState(
            spec=replace(spec, name=key.name),
            key_id=key.id,
            org_id=self.org_id,
            key_prefix=key.key_prefix,
            created_at=format_time(key.created_at),
            expires_at=format_time(key.expires_at),
            status=status,
            token=token or None,
        )

    # -- refresh, update, delete ----------------------------------------------------------------

    def refresh(self, state: KeyState) -> KeyState | None:
        """The key as the org shows it now, its token carried forward; None when it is gone.

        A refresh changes nothing in the org: a gone key leaves state (the next ``up`` creates a new one), an
        expired key or a stored token that is not the key's is marked for replacement by the next ``up``.
        """
        org = state.org_id or self.org_id
        try:
            listed = self.inventory(org).snapshot()
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            if org == self.org_id and not self.borrowed_credentials:
                raise
            raise ArdentConfigurationError(
                f"Ardent key {state.key_id} ({state.spec.name!r}) is recorded in org {org}, which the configured "
                f"credentials cannot read (HTTP {error.status}). Run `pulumi up` to move the key to the configured "
                f"org, or give org {org} credentials: `pulumi config set --secret --path 'ardent:orgs.{org}.token' "
                "<token>`."
            ) from None
        self.sync_service_clock()
        key = listed.get(state.key_id)
        if key is None:
            self._warn(
                f"Ardent key {state.key_id} ({state.spec.name!r}) is no longer active in org {org}: it was revoked "
                "or deleted outside Pulumi. `pulumi up --refresh` drops it from the state and creates a new key (as do "
                "`pulumi refresh`, then `pulumi up`); a preview (`pulumi preview --refresh`) saves nothing, so a plain "
                "`pulumi up` after it keeps the revoked key and its dead token."
            )
            return None
        fresh = replace(self.listed_state(state.spec, key, state.token), org_id=org)
        if fresh.status == EXPIRED:
            self._warn(
                f"Ardent key {state.key_id} ({key.name!r}) expired at {fresh.expires_at}; "
                "the next `pulumi up` replaces it."
            )
        elif fresh.status == INVALID_TOKEN:
            self._warn(
                f"The token stored for Ardent key {state.key_id} ({key.name!r}) is not that key's token any more. "
                "`pulumi up --refresh` (or `pulumi refresh`, then `pulumi up`) replaces the key so that a working "
                "token is published; a preview (`pulumi preview --refresh`) saves nothing, so a plain `pulumi up` "
                "after it keeps publishing this token."
            )
        refreshed = replace(
            fresh,
            previous_key_id=state.previous_key_id,
            previous_token=state.previous_token,
            previous_revoke_after=state.previous_revoke_after,
            pending_revoke_key_ids=tuple(key_id for key_id in state.pending_revoke_key_ids if key_id in listed),
        )
        if state.spec.sink is not None:
            refreshed = self._checked_sink(state, refreshed)
        if state.previous_key_id and state.previous_key_id not in listed:
            return refreshed.without_previous()
        return refreshed

    def _checked_sink(self, state: KeyState, refreshed: KeyState) -> KeyState:
        """The refreshed key with its sink's record, marked for replacement when the sink lost its token."""
        assert state.spec.sink is not None
        refreshed = replace(
            refreshed,
            stored_fingerprint=state.stored_fingerprint,
            sink_secret_arn=state.sink_secret_arn,
            sink_version_id=state.sink_version_id,
        )
        sink = self.sinks.sink(state.spec.sink)
        problem = sink.check(state.sink_version_id)
        if problem is None:
            return refreshed
        what = (
            "holds another version as AWSCURRENT (overwritten outside Pulumi)"
            if problem == SINK_MISMATCH
            else "is gone (deleted or scheduled for deletion)"
        )
        self._warn(
            f"{sink.describe()}, the holder of Ardent key {state.key_id}'s ({state.spec.name!r}) token, {what}: the "
            "token can no longer be recovered from anywhere. The next `pulumi up` replaces the key and writes the new "
            "token to the secret; `pulumi up --refresh` does both at once."
        )
        return replace(refreshed, status=problem)

    def _previous_gone(self, state: KeyState, *, report: bool) -> bool:
        """Whether the org no longer lists the state's previous key (revoked by an interrupted run, or by hand).

        Such a key's token authenticates nothing, so it is dropped from the outputs. Only this lifecycle's org
        is checked; when it cannot be listed the previous key is left as recorded.
        """
        if not state.previous_key_id or (state.org_id or self.org_id) != self.org_id:
            return False
        try:
            listed = self.inventory().snapshot()
        except ArdentError:
            return False
        if state.previous_key_id in listed:
            return False
        if report:
            self._warn(
                f"The previous key {state.previous_key_id} kept by Ardent key {state.key_id} ({state.spec.name!r}) is "
                "no longer active in its org (an interrupted run or someone else revoked it): previous_token is "
                "dropped from the outputs."
            )
        return True

    def update(self, old: KeyState, spec: KeySpec) -> KeyState:
        """Record changed settings; revoke the previous key once its grace period is over, and leftovers."""
        if not old.spec.role and spec.role:
            self._warn(
                f"Ardent key {old.key_id} ({old.spec.name!r}) is recorded with the role the program declares, "
                f"{spec.role}: Ardent does not list a key's role, so it cannot be checked against the key."
            )
        kept = kept_by_update(
            {"name": old.spec.name, "role": old.spec.role, "org_id": old.org_id}, spec.to_inputs(), self.org_id
        )
        state = replace(old, spec=replace(spec, name=kept["name"], role=kept["role"]), org_id=kept["org_id"])
        if spec.sink is not None and old.spec.sink is None:
            # The token the stack holds moves to the sink; the stack stops publishing it.
            state = self._store(state, new_key=False)
        elif spec.sink is None and old.spec.sink is not None:
            self._warn(
                f"Ardent key {old.key_id} ({old.spec.name!r}) no longer has a sink and is kept (on_missing_token "
                f"'keep'): the stack holds no token for it; {old.spec.sink.secret_id!r} keeps the last one written."
            )
            state = replace(state, sink_secret_arn=None, sink_version_id=None)
        if old.previous_key_id:
            due = _is_due(old.previous_revoke_after, self.service_now())
            revoked = due and not self.revoke_or_defer([old.previous_key_id], reason="the expired grace period")
            if revoked or (not due and self._previous_gone(old, report=True)):
                state = state.without_previous()
        if state.pending_revoke_key_ids:
            state = replace(
                state,
                pending_revoke_key_ids=self.revoke_or_defer(state.pending_revoke_key_ids, reason="a replaced key"),
            )
        return state

    def delete(self, state: KeyState) -> None:
        """Revoke the key, its kept previous key and any leftovers; a key already gone counts as revoked.

        The key is left active in two cases, both proved within this run:

        * a state of this run keeps it as its previous key (the replacement just created, or the replacement
          recorded by a run that was interrupted before this delete; the engine diffs the program's resources
          before it deletes what was left pending delete): that state revokes it when the grace period ends,
          and took over its leftovers when it was created;
        * this run's ``diff`` decided to replace it delete-before-replace in its own org, and the replacement's
          inputs keep it: the ``create`` that follows records it as the new key's previous key. Its leftovers
          are revoked now, as that create would.

        A destroy, or a removed resource, has neither: everything is revoked.
        """
        org = state.org_id or self.org_id
        leftovers = [key_id for key_id in (state.previous_key_id, *state.pending_revoke_key_ids) if key_id]
        if self.ledger.held(state.key_id):
            return
        replacement = self.ledger.replacing(state.key_id)
        if replacement is not None and self._keepable(replace(replacement, replaced=replace(state, org_id=org))):
            self.ledger.kept_at_delete(state.key_id)
            self._revoke_all(leftovers, org)
            self._warn(
                f"Ardent key {state.key_id} ({state.spec.name!r}) is replaced delete-before-replace and kept active "
                f"for its grace period ({replacement.keep_days} day(s)): the new key records it as previous_key_id. "
                f"If this run stops before the new key is created and the stack is destroyed instead of updated, key "
                f"{state.key_id} stays active with no state holding it: `ardent-keys drift --unmanaged` lists it, "
                "and `ardent-keys revoke` revokes it."
            )
            return
        self._revoke_all([state.key_id, *leftovers], org)
        if state.spec.sink is None:
            return
        if replacement is not None and state.spec.sink.same_secret(replacement.sink):
            # Delete-before-replace: the replacement writes its token to this secret next; a secret deleted now
            # (scheduled for deletion) would refuse that write.
            return
        self._release_sink(state, org)

    def _release_sink(self, state: KeyState, org: str) -> None:
        """Clean up the revoked key's secret; a failure is a warning, as the token it holds is revoked."""
        assert state.spec.sink is not None
        sink = self.sinks.sink(state.spec.sink)
        earlier = [key_id for key_id in (state.previous_key_id, *state.pending_revoke_key_ids) if key_id]
        try:
            sink.release(state.key_id, org, earlier)
        except ArdentError as error:
            self._warn(
                f"Ardent key {state.key_id} ({state.spec.name!r}) is revoked, but {error} It holds only revoked "
                "tokens; delete it, or its versions, by hand."
            )

    def _revoke_all(self, key_ids: Iterable[str], org: str) -> None:
        for key_id in dict.fromkeys(key_ids):
            self.revoke(key_id, org)

    def revoke(self, key_id: str, org_id: str | None = None) -> None:
        """Revoke one key; one that is already revoked or gone counts as done.

        A key recorded in another org than the configured one is revoked there when the credentials allow
        it; otherwise it is left active with a warning naming it.
        """
        org = org_id or self.org_id
        with self._lock:
            if key_id in self._revoked_ids:
                return  # revoked earlier in this run (a revocation is final)
        try:
            self.client.revoke_key(org, key_id)
        except NotFoundError:
            if org != self.org_id or self.borrowed_credentials:
                self._warn_foreign(key_id, org, 404)
                return
        except (AuthenticationError, PermissionDeniedError) as error:
            if org == self.org_id and not self.borrowed_credentials:
                raise
            self._warn_foreign(key_id, org, error.status)
            return
        finally:
            self.inventory(org).invalidate()
        with self._lock:
            self._revoked_ids.add(key_id)

    def _warn_foreign(self, key_id: str, org: str, status: int) -> None:
        self._warn(
            f"Ardent key {key_id} lives in org {org}, which the configured credentials cannot manage (HTTP "
            f"{status}); it was left active there. Revoke it with credentials for org {org} (for example "
            f"`pulumi config set --secret --path 'ardent:orgs.{org}.token' <token>`, then `pulumi up`)."
        )

    def revoke_or_defer(self, key_ids: Iterable[str], *, reason: str) -> tuple[str, ...]:
        """Revoke each key; those that fail are warned about by id and returned, to retry on the next ``up``."""
        deferred: list[str] = []
        for key_id in dict.fromkeys(key_ids):
            try:
                self.revoke(key_id)
            except ArdentError as error:
                deferred.append(key_id)
                self._warn(
                    f"Could not revoke Ardent key {key_id} ({reason}) in org {self.org_id}: {error}. It stays "
                    "active for now and is revoked on the next `pulumi up` (listed in pending_revoke_key_ids)."
                )
        return tuple(deferred)

    def scope_problem(self, role: str, scopes: Iterable[str], permissions: Mapping[str, frozenset[str]]) -> str | None:
        """Why ``scopes`` do not fit ``role``, when the role's permissions are known; None when they fit."""
        allowed = permissions.get(role)
        if allowed is None:
            return None
        outside = [scope for scope in scopes if scope not in allowed]
        if not outside:
            return None
        return f"scopes {', '.join(outside)} are not permissions of {role}; it has: {', '.join(sorted(allowed))}"

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks[name]


def _is_due(moment: Any, now: datetime) -> bool:
    due = parse_time(moment)
    return due is not None and due <= now
