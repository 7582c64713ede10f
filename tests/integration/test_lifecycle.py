"""Every branch of the key lifecycle, in-process against a real emulator on a socket; no Pulumi CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ardent_provider import (
    ArdentClient,
    AuthenticationError,
    BadRequestError,
    ValidationError,
)
from ardent_provider.emulator import EmulatorServer
from ardent_provider.errors import ArdentConfigurationError, ArdentConnectionError, ServerError
from ardent_provider.lifecycle import CREATE_ATTEMPTS, KeyAdoptionError, KeyLifecycle, ReplacementLedger
from ardent_provider.models import SecretToken
from ardent_provider.state import EXPIRED, INVALID_TOKEN, UNKNOWN, KeySpec, KeyState

from ..conftest import FAST_RETRY, token_authenticates

CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
LIST = "GET /v1/orgs/{org_id}/api-keys"
DAY = 86400
GRACE: dict[str, Any] = {"keep_previous_for_days": 2, "expires_in_days": 90}


@dataclass
class World:
    """The emulator, an owner client onto it, and a lifecycle whose warnings are collected."""

    emulator: EmulatorServer
    owner: ArdentClient
    lifecycle: KeyLifecycle
    warnings: list[str] = field(default_factory=list)

    def new_lifecycle(self, *, timeout: float | None = None) -> KeyLifecycle:
        client = ArdentClient(self.emulator.token, api_url=self.emulator.url, retry=FAST_RETRY, timeout=timeout or 15.0)
        return KeyLifecycle(client, self.emulator.org_id, warn=self.warnings.append, sleep=lambda _s: None)

    def fault(self, route: str, mode: str, **options: Any) -> None:
        answer = httpx.post(f"{self.emulator.url}/_emulator/faults", json={"route": route, "mode": mode, **options})
        assert answer.is_success, answer.text

    def clear_faults(self) -> None:
        httpx.delete(f"{self.emulator.url}/_emulator/faults")

    def advance(self, seconds: float) -> None:
        httpx.post(f"{self.emulator.url}/_emulator/clock", json={"advance_seconds": seconds}).raise_for_status()

    def requests(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{self.emulator.url}/_emulator/stats").json()["requests"]
        return counts

    def active(self) -> dict[str, Any]:
        return {
            key.id: key for key in self.owner.list_keys(self.emulator.org_id) if key.name != "emulator-bootstrap-owner"
        }

    def works(self, token: str | None) -> bool:
        return token_authenticates(self.owner, self.emulator.org_id, token)

    def make_key(self, name: str, role: str = "role_org_member", **options: Any) -> tuple[str, str]:
        created = self.owner.create_key(self.emulator.org_id, name=name, role=role, **options)
        return created.id, created.token.reveal()


@pytest.fixture
def world(emulator: EmulatorServer) -> Iterator[World]:
    owner = ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY)
    warnings: list[str] = []
    client = ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY)
    lifecycle = KeyLifecycle(client, emulator.org_id, warn=warnings.append, sleep=lambda _s: None)
    yield World(emulator, owner, lifecycle, warnings)
    owner.close()
    client.close()


def spec(name: str = "svc", role: str = "role_org_member", **options: Any) -> KeySpec:
    return KeySpec(name=name, role=role, resource_name=options.pop("resource_name", name), **options)


def news_of(key_spec: KeySpec, **changes: Any) -> dict[str, Any]:
    return {**key_spec.to_inputs(), **changes}


# -- create ----------------------------------------------------------------------------------------


def test_create_returns_the_key_with_its_token_org_and_fingerprint(world: World) -> None:
    state = world.lifecycle.create(spec(scopes=("projects.read",), expires_in_days=30))
    assert state.key_id in world.active()
    assert world.works(state.token)
    assert state.org_id == world.emulator.org_id
    assert state.status == "active" and state.expires_at is not None
    assert state.token is not None and state.token.startswith(state.key_prefix)
    outputs = state.to_outputs()
    assert outputs["token_fingerprint"] == SecretToken(state.token).fingerprint
    assert outputs["scopes"] == ["projects.read"] and outputs["role"] == "role_org_member"
    assert state.token not in repr(state)


@pytest.mark.parametrize(
    ("mode", "options", "leaves_a_key"),
    [
        ("drop", {}, False),
        ("drop_after_commit", {}, True),
        ("status", {"status": 503}, False),
        ("status", {"status": 500}, False),
    ],
)
def test_create_after_one_ambiguous_failure_succeeds_and_never_revokes_what_it_cannot_prove_is_its_own(
    world: World, mode: str, options: dict[str, Any], leaves_a_key: bool
) -> None:
    world.fault(CREATE, mode, count=1, **options)
    state = world.lifecycle.create(spec("ambiguous"))
    assert world.works(state.token)
    active = world.active()
    others = [key_id for key_id in active if key_id != state.key_id]
    assert len(others) == (1 if leaves_a_key else 0)
    assert world.requests().get(REVOKE, 0) == 0
    (warning,) = world.warnings
    assert "'ambiguous' failed without an answer" in warning and "ardent-keys drift" in warning
    if leaves_a_key:
        assert others[0] in warning and "left active" in warning
    else:
        assert "may still complete" in warning


def test_a_create_timeout_is_ambiguous_and_the_late_key_is_left_active(world: World) -> None:
    # The first attempt is held 5 s, well past the client's 1 s timeout; the retry is not held at all.
    lifecycle = world.new_lifecycle(timeout=1.0)
    world.fault(CREATE, "delay", delay_ms=5000, count=1)
    state = lifecycle.create(spec("slow"))
    assert world.works(state.token)
    # The held attempt commits after the client gave up on it: wait for its key rather than for a fixed time.
    deadline = time.monotonic() + 30
    late = [key_id for key_id in world.active() if key_id != state.key_id]
    while not late and time.monotonic() < deadline:
        time.sleep(0.05)
        late = [key_id for key_id in world.active() if key_id != state.key_id]
    assert len(late) == 1 and world.requests()[CREATE] == 2
    assert world.requests().get(REVOKE, 0) == 0
    # The late key was not listed yet when the create succeeded; the warning still says one may appear.
    (warning,) = world.warnings
    assert "'slow' failed without an answer" in warning and "ardent-keys drift" in warning


def test_a_definite_failure_after_an_ambiguous_one_still_names_the_key_that_attempt_left(world: World) -> None:
    world.fault(CREATE, "drop_after_commit", count=1)
    world.fault(CREATE, "status", status=400)
    with pytest.raises(BadRequestError) as raised:
        world.lifecycle.create(spec("half"))
    (left,) = world.active()
    assert left in "\n".join(raised.value.__notes__) and left in world.warnings[-1]
    assert world.requests().get(REVOKE, 0) == 0


@pytest.mark.parametrize(
    ("status", "error"), [(400, BadRequestError), (422, ValidationError), (401, AuthenticationError)]
)
def test_a_definite_create_failure_raises_at_once_and_creates_nothing(
    world: World, status: int, error: type[Exception]
) -> None:
    world.fault(CREATE, "status", status=status)
    with pytest.raises(error):
        world.lifecycle.create(spec("refused"))
    assert world.requests()[CREATE] == 1
    assert world.active() == {}


def test_create_gives_up_after_the_attempt_limit_naming_the_keys_it_left(world: World) -> None:
    world.fault(CREATE, "drop_after_commit")
    with pytest.raises(ArdentConnectionError) as raised:
        world.lifecycle.create(spec("doomed"))
    left = world.active()
    assert len(left) == CREATE_ATTEMPTS and world.requests()[CREATE] == CREATE_ATTEMPTS
    note = "\n".join(raised.value.__notes__)
    assert all(key_id in note for key_id in left)
    assert all(key_id in world.warnings[-1] for key_id in left)
    assert world.requests().get(REVOKE, 0) == 0


def test_two_pipelines_creating_the_same_names_under_commit_then_drop_never_revoke_each_others_keys(
    world: World,
) -> None:
    # The first create is always dropped after its commit, then a seeded share of the rest; capped together
    # below the create attempts, so every create converges however the faults fall.
    world.fault(CREATE, "drop_after_commit", count=1)
    world.fault(CREATE, "drop_after_commit", rate=0.3, count=CREATE_ATTEMPTS - 2, seed=20261206)
    first, second = world.new_lifecycle(), world.new_lifecycle()
    results: dict[str, list[KeyState]] = {"first": [], "second": []}

    def run(label: str, lifecycle: KeyLifecycle) -> None:
        for index in range(6):
            results[label].append(lifecycle.create(spec(f"shared-{index % 3}", resource_name=f"k{index}")))

    threads = [threading.Thread(target=run, args=item) for item in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    hits = sum(rule["hits"] for rule in httpx.get(f"{world.emulator.url}/_emulator/faults").json()["faults"])
    world.clear_faults()
    states = results["first"] + results["second"]
    assert len(states) == 12
    assert all(world.works(state.token) for state in states)
    assert world.requests().get(REVOKE, 0) == 0
    leftovers = set(world.active()) - {state.key_id for state in states}
    warned = " ".join(world.warnings)
    assert all(key_id in warned for key_id in leftovers)
    # Every fault that fired left exactly one key behind, and at least one fired.
    assert hits >= 1 and len(leftovers) == hits


# -- adoption --------------------------------------------------------------------------------------


def test_adopting_with_the_right_token_manages_the_key_as_is(world: World) -> None:
    key_id, token = world.make_key("handmade", scopes=["projects.read"])
    state = world.lifecycle.create(spec("handmade", adopt_key_id=key_id, adopt_token=token, scopes=("projects.read",)))
    assert state.key_id == key_id and state.token == token and state.status == "active"
    assert list(world.active()) == [key_id]


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"name": "other-name"}, "is named 'handmade'"),
        ({"scopes": ("projects.write",)}, "has scopes"),
        ({"adopt_token": "sk-ard_test_not-the-token-at-all-000000000"}, "is not the token"),
        ({"adopt_key_id": "key_missing"}, "has no active key"),
        ({"on_missing_token": "error"}, "without its token"),
        ({}, "without its token"),
    ],
)
def test_adoption_refusals_change_nothing(world: World, declared: dict[str, Any], message: str) -> None:
    key_id, _token = world.make_key("handmade")
    options: dict[str, Any] = {"adopt_key_id": key_id, **declared}
    with pytest.raises(KeyAdoptionError, match=message):
        world.lifecycle.create(spec(options.pop("name", "handmade"), **options))
    assert list(world.active()) == [key_id]
    assert world.requests().get(CREATE, 0) == 1


def test_adopting_a_revoked_key_with_its_old_token_is_refused(world: World) -> None:
    key_id, token = world.make_key("handmade")
    other_id, _ = world.make_key("handmade")
    world.owner.revoke_key(world.emulator.org_id, key_id)
    with pytest.raises(KeyAdoptionError):
        world.lifecycle.create(spec("handmade", adopt_key_id=key_id, adopt_token=token))
    assert list(world.active()) == [other_id]


def test_adopting_without_token_and_keep_publishes_no_token(world: World) -> None:
    key_id, _token = world.make_key("handmade")
    state = world.lifecycle.create(spec("handmade", adopt_key_id=key_id, on_missing_token="keep"))
    assert state.key_id == key_id and state.token is None and state.to_outputs()["token_fingerprint"] is None


def test_adopting_without_token_and_rotate_creates_a_new_key_then_revokes_the_adopted_one(world: World) -> None:
    key_id, token = world.make_key("handmade")
    state = world.lifecycle.create(spec("handmade", adopt_key_id=key_id, on_missing_token="rotate"))
    assert state.key_id != key_id and world.works(state.token)
    assert not world.works(token) and list(world.active()) == [state.key_id]
    assert state.pending_revoke_key_ids == ()


def test_rotate_on_adoption_keeps_the_new_key_when_revoking_the_adopted_one_fails(world: World) -> None:
    key_id, token = world.make_key("handmade")
    world.fault(REVOKE, "status", status=500)
    state = world.lifecycle.create(spec("handmade", adopt_key_id=key_id, on_missing_token="rotate"))
    assert world.works(state.token) and world.works(token)
    assert state.pending_revoke_key_ids == (key_id,)
    assert key_id in world.warnings[-1] and "next `pulumi up`" in world.warnings[-1]
    world.clear_faults()
    updated = world.lifecycle.update(state, state.spec)
    assert updated.pending_revoke_key_ids == () and not world.works(token)


# -- plan (diff) -----------------------------------------------------------------------------------


def test_plan_of_unchanged_inputs_changes_nothing(world: World) -> None:
    state = world.lifecycle.create(spec("steady"))
    plan = world.lifecycle.plan(state, news_of(state.spec))
    assert not plan.changes and plan.replaces == ()


@pytest.mark.parametrize(
    ("changes", "replaces"),
    [
        ({"role": "role_org_admin"}, ("role",)),
        ({"name": UNKNOWN}, ("name",)),
        ({"scopes": ["projects.read", UNKNOWN]}, ("scopes",)),
        ({"rotation_triggers": {"v": "2"}}, ("rotation_triggers",)),
        ({"expires_in_days": 30}, ("expires_in_days",)),
    ],
)
def test_plan_replaces_for_a_changed_or_unknown_key_input(
    world: World, changes: dict[str, Any], replaces: tuple[str, ...]
) -> None:
    state = world.lifecycle.create(spec("changing"))
    plan = world.lifecycle.plan(state, news_of(state.spec, **changes))
    assert plan.changes and plan.replaces == replaces


def test_plan_updates_in_place_for_a_setting(world: World) -> None:
    state = world.lifecycle.create(spec("setting", expires_in_days=90))
    plan = world.lifecycle.plan(state, news_of(state.spec, keep_previous_for_days=2))
    assert plan.changes and plan.replaces == ()


def test_plan_replaces_a_key_recorded_in_another_org(world: World) -> None:
    state = replace(world.lifecycle.create(spec("moved")), org_id="org_elsewhere")
    assert world.lifecycle.plan(state, news_of(state.spec)).replaces == ("org_id",)


def test_plan_replaces_an_expired_key_an_invalid_token_and_a_key_in_its_rotation_window(world: World) -> None:
    state = world.lifecycle.create(spec("ageing", expires_in_days=30))
    news = news_of(state.spec, rotate_before_days=7)
    assert world.lifecycle.plan(state, news).replaces == ()
    assert world.lifecycle.plan(replace(state, status=INVALID_TOKEN), news).replaces == ("token",)
    assert world.lifecycle.plan(replace(state, status=EXPIRED), news).replaces == ("expires_at",)
    world.advance(24 * DAY)
    fresh = world.new_lifecycle()
    assert fresh.plan(state, news).replaces == ("expires_at",)
    assert fresh.plan(state, news_of(state.spec)).replaces == ()


def test_the_service_clock_is_synchronised_once_by_a_named_call(world: World) -> None:
    lifecycle = world.new_lifecycle()
    world.advance(10 * DAY)
    before = world.requests().get(LIST, 0)
    lifecycle.sync_service_clock()
    lifecycle.sync_service_clock()
    assert world.requests()[LIST] == before + 1
    local = datetime.now(UTC)
    assert abs((lifecycle.service_now() - local - timedelta(days=10)).total_seconds()) < 5


def test_two_resources_of_one_name_under_different_parents_keep_their_own_predecessor(world: World) -> None:
    one = world.lifecycle.create(
        spec("dup", parent_resource="acme:Team::a", keep_previous_for_days=2, expires_in_days=90)
    )
    two = world.lifecycle.create(
        spec("dup", parent_resource="acme:Team::b", keep_previous_for_days=2, expires_in_days=90)
    )
    for state in (one, two):
        assert world.lifecycle.plan(state, news_of(state.spec, role="role_org_viewer")).replaces == ("role",)
    new_two = world.lifecycle.create(replace(two.spec, role="role_org_viewer"))
    new_one = world.lifecycle.create(replace(one.spec, role="role_org_viewer"))
    assert new_one.previous_key_id == one.key_id and new_one.previous_token == one.token
    assert new_two.previous_key_id == two.key_id and new_two.previous_token == two.token


def test_the_ledger_hands_each_replaced_state_out_once() -> None:
    ledger = ReplacementLedger()
    old = KeyState(spec=spec("x"), key_id="key_1")
    ledger.record(("urn:p", "x"), old, 2, "org_1")
    assert ledger.take(("urn:q", "x")) is None
    taken = ledger.take(("urn:p", "x"))
    assert taken is not None and taken.replaced is old and (taken.keep_days, taken.target_org) == (2, "org_1")
    assert ledger.take(("urn:p", "x")) is None


def test_the_ledger_knows_a_pending_replacement_by_key_and_the_keys_states_hold() -> None:
    ledger = ReplacementLedger()
    ledger.record(("urn:p", "x"), KeyState(spec=spec("x"), key_id="key_1"), 3)
    found = ledger.replacing("key_1")
    assert found is not None and found.keep_days == 3 and ledger.replacing("key_2") is None
    assert not found.kept_at_delete
    ledger.kept_at_delete("key_1")
    found = ledger.replacing("key_1")
    assert found is not None and found.kept_at_delete
    ledger.take(("urn:p", "x"))
    assert ledger.replacing("key_1") is None
    assert not ledger.held("key_1")
    ledger.hold("key_1")
    assert ledger.held("key_1")


# -- replacement, grace period, update, delete -----------------------------------------------------


def replace_key(lifecycle: KeyLifecycle, old: KeyState, **changes: Any) -> KeyState:
    news = news_of(old.spec, **changes)
    assert lifecycle.plan(old, news).replaces
    new = lifecycle.create(KeySpec.from_inputs(news))
    lifecycle.delete(old)
    return new


def test_replacement_without_grace_revokes_the_old_key_after_creating_the_new_one(world: World) -> None:
    old = world.lifecycle.create(spec("swap"))
    new = replace_key(world.lifecycle, old, role="role_org_admin")
    assert new.previous_key_id is None
    assert not world.works(old.token) and world.works(new.token)


def test_grace_period_keeps_the_old_key_then_update_revokes_it_when_due(world: World) -> None:
    first = world.lifecycle.create(spec("graceful", keep_previous_for_days=2, expires_in_days=90))
    second = replace_key(world.lifecycle, first, rotation_triggers={"r": "2"})
    assert second.previous_key_id == first.key_id and second.previous_token == first.token
    assert world.works(first.token) and world.works(second.token)
    assert second.previous_revoke_after is not None

    third = replace_key(world.lifecycle, second, rotation_triggers={"r": "3"})
    assert third.previous_key_id == second.key_id
    assert not world.works(first.token), "the key kept before is revoked once a newer one is kept"

    lifecycle = world.new_lifecycle()
    assert lifecycle.plan(third, news_of(third.spec)).changes is False
    world.advance(3 * DAY)
    lifecycle = world.new_lifecycle()
    lifecycle.sync_service_clock()
    assert lifecycle.plan(third, news_of(third.spec)).changes is True
    done = lifecycle.update(third, third.spec)
    assert done.previous_key_id is None and done.previous_token is None
    assert not world.works(second.token) and world.works(third.token)


def test_an_older_kept_key_that_cannot_be_revoked_is_retried_on_the_next_up(world: World) -> None:
    first = world.lifecycle.create(spec("graceful", keep_previous_for_days=2, expires_in_days=90))
    second = replace_key(world.lifecycle, first, rotation_triggers={"r": "2"})
    world.fault(REVOKE, "status", status=503)
    third = replace_key(world.lifecycle, second, rotation_triggers={"r": "3"})
    assert world.works(third.token), "a failed revoke never fails the create of the new key"
    assert third.pending_revoke_key_ids == (first.key_id,)
    assert first.key_id in world.warnings[-1]
    world.clear_faults()
    lifecycle = world.new_lifecycle()
    assert lifecycle.plan(third, news_of(third.spec)).changes is True
    cleaned = lifecycle.update(third, third.spec)
    assert cleaned.pending_revoke_key_ids == () and not world.works(first.token)
    assert cleaned.previous_key_id == second.key_id


def test_an_expired_key_is_not_kept_as_previous(world: World) -> None:
    old = world.lifecycle.create(spec("stale", keep_previous_for_days=2, expires_in_days=1))
    world.advance(2 * DAY)
    lifecycle = world.new_lifecycle()
    refreshed = lifecycle.refresh(old)
    assert refreshed is not None and refreshed.status == EXPIRED
    new = replace_key(lifecycle, refreshed)
    assert new.previous_key_id is None and new.previous_token is None
    assert old.key_id not in world.active()


def test_update_keeps_the_previous_key_when_its_revoke_fails(world: World) -> None:
    first = world.lifecycle.create(spec("graceful", keep_previous_for_days=1, expires_in_days=90))
    second = replace_key(world.lifecycle, first, rotation_triggers={"r": "2"})
    world.advance(2 * DAY)
    world.fault(REVOKE, "status", status=503)
    lifecycle = world.new_lifecycle()
    lifecycle.sync_service_clock()
    kept = lifecycle.update(second, second.spec)
    assert kept.previous_key_id == first.key_id and first.key_id in world.warnings[-1]


def test_delete_revokes_key_previous_and_pending_and_treats_gone_as_done(world: World) -> None:
    first = world.lifecycle.create(spec("doomed", keep_previous_for_days=2, expires_in_days=90))
    second = replace_key(world.lifecycle, first, rotation_triggers={"r": "2"})
    extra_id, extra_token = world.make_key("leftover")
    state = replace(second, pending_revoke_key_ids=(extra_id, "key_gone_already"))
    lifecycle = world.new_lifecycle()
    lifecycle.delete(state)
    assert world.active() == {}
    assert not any(world.works(token) for token in (first.token, second.token, extra_token))
    lifecycle.delete(state)  # everything already revoked: still fine


# -- a grace period across an interrupted run ------------------------------------------------------
# Each run is a lifecycle of its own (a new provider process), as after `pulumi up` was killed.


def interrupted_replacement(world: World) -> tuple[KeyState, KeyState]:
    """A rotation whose run stopped after the new key was created and recorded, before the old key's delete."""
    old = world.lifecycle.create(spec("graceful", **GRACE))
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    assert world.lifecycle.plan(old, news).replaces
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    assert new.previous_key_id == old.key_id
    return old, new


def test_the_next_up_after_a_run_killed_before_the_old_keys_delete_keeps_it_until_its_deadline(world: World) -> None:
    old, new = interrupted_replacement(world)
    # The next `up`: the engine diffs the program's resources, then deletes what was left pending delete.
    run = world.new_lifecycle()
    assert run.plan(new, news_of(new.spec)).changes is False
    run.delete(old)
    assert world.works(old.token) and world.works(new.token)
    assert world.requests().get(REVOKE, 0) == 0
    world.advance(3 * DAY)
    later = world.new_lifecycle()
    assert later.plan(new, news_of(new.spec)).updates == ("previous_key_id",)
    done = later.update(new, new.spec)
    assert done.previous_key_id is None and done.previous_token is None
    assert not world.works(old.token) and world.works(new.token)


def test_a_destroy_after_a_run_killed_before_the_old_keys_delete_revokes_both(world: World) -> None:
    old, new = interrupted_replacement(world)
    run = world.new_lifecycle()  # a destroy diffs nothing
    run.delete(old)
    assert not world.works(old.token), "no diffed state holds the old key: it is revoked"
    run.delete(new)
    assert world.active() == {}


@pytest.mark.parametrize("order", ["new first", "old first"])
def test_a_destroy_in_a_run_that_diffed_the_replacement_still_revokes_everything(world: World, order: str) -> None:
    old, new = interrupted_replacement(world)
    run = world.new_lifecycle()
    run.plan(new, news_of(new.spec))  # `pulumi destroy --run-program`, or a refresh first
    for state in [new, old] if order == "new first" else [old, new]:
        run.delete(state)
    assert world.active() == {}


def test_a_removed_resource_is_revoked_even_when_a_newer_key_of_its_name_exists(world: World) -> None:
    mine = world.lifecycle.create(spec("shared-name", **GRACE))
    world.make_key("shared-name")  # another stack's key of the same name, made later
    run = world.new_lifecycle()
    run.delete(mine)
    assert not world.works(mine.token)


def test_a_previous_key_revoked_by_an_earlier_release_is_dropped_from_the_outputs_at_the_next_up(world: World) -> None:
    old, new = interrupted_replacement(world)
    world.new_lifecycle().delete(old)  # what an earlier release did on the next `up`
    assert not world.works(new.previous_token)
    run = world.new_lifecycle()
    plan = run.plan(new, news_of(new.spec))
    assert plan.changes is True and plan.updates == ("previous_key_id",) and not plan.replaces
    updated = run.update(new, new.spec)
    assert updated.previous_key_id is None and updated.previous_token is None
    assert updated.to_outputs()["previous_token"] is None and world.works(updated.token)
    assert old.key_id in world.warnings[-1]


def test_a_replacement_does_not_keep_a_key_that_is_no_longer_active(world: World) -> None:
    old = world.lifecycle.create(spec("graceful", **GRACE))
    world.owner.revoke_key(world.emulator.org_id, old.key_id)  # by an interrupted run of an earlier release
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    run = world.new_lifecycle()
    run.plan(old, news)
    new = run.create(KeySpec.from_inputs(news))
    assert new.previous_key_id is None and new.previous_token is None


def test_delete_before_replace_keeps_the_old_key_for_the_create_that_follows(world: World) -> None:
    old = world.lifecycle.create(spec("dbr", **GRACE))
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    assert world.lifecycle.plan(old, news).replaces
    world.lifecycle.delete(old)  # delete-before-replace: the old key's delete comes first
    assert world.works(old.token) and old.key_id in world.warnings[-1]
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    assert new.previous_key_id == old.key_id and new.previous_token == old.token
    assert world.works(old.token) and world.works(new.token)


def test_delete_before_replace_interrupted_before_the_create_is_completed_by_the_next_up(world: World) -> None:
    old = world.lifecycle.create(spec("dbr", **GRACE))
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    world.lifecycle.plan(old, news)
    world.lifecycle.delete(old)
    # The engine keeps the deleted resource pending replacement; the next `up` diffs it and creates the new key.
    run = world.new_lifecycle()
    assert run.plan(old, news).replaces
    new = run.create(KeySpec.from_inputs(news))
    assert new.previous_key_id == old.key_id and world.works(new.previous_token)


def test_delete_before_replace_without_a_grace_period_revokes_at_once(world: World) -> None:
    old = world.lifecycle.create(spec("dbr"))
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    world.lifecycle.plan(old, news)
    world.lifecycle.delete(old)
    assert not world.works(old.token)
    new = world.lifecycle.create(KeySpec.from_inputs(news))
    assert new.previous_key_id is None


def test_delete_before_replace_revokes_the_old_keys_own_previous_key_at_once(world: World) -> None:
    first = world.lifecycle.create(spec("dbr", **GRACE))
    second = replace_key(world.lifecycle, first, rotation_triggers={"r": "2"})
    run = world.new_lifecycle()
    news = news_of(second.spec, rotation_triggers={"r": "3"})
    run.plan(second, news)
    run.delete(second)
    assert not world.works(first.token) and world.works(second.token)
    third = run.create(KeySpec.from_inputs(news))
    assert third.previous_key_id == second.key_id and third.pending_revoke_key_ids == ()


def test_delete_before_replace_into_another_org_revokes_the_old_key_at_delete(world: World) -> None:
    other = httpx.post(f"{world.emulator.url}/_emulator/orgs").json()
    ledger = ReplacementLedger()
    home_client = ArdentClient(world.emulator.token, api_url=world.emulator.url, retry=FAST_RETRY)
    other_client = ArdentClient(other["token"], api_url=world.emulator.url, retry=FAST_RETRY)
    home = KeyLifecycle(home_client, world.emulator.org_id, warn=world.warnings.append, ledger=ledger)
    there = KeyLifecycle(other_client, other["org_id"], warn=world.warnings.append, ledger=ledger)
    old = home.create(spec("moving", **GRACE))
    news = news_of(old.spec, org_id=other["org_id"])
    # As the providers run it: the plan on the target org's lifecycle, the delete on the old key's own.
    assert "org_id" in there.plan(old, news, other["org_id"]).replaces
    home.delete(old)
    assert not world.works(old.token), "no replacement in another org keeps the key: the delete revokes it"
    new = there.create(KeySpec.from_inputs(news))
    assert new.org_id == other["org_id"] and new.previous_key_id is None and new.previous_token is None
    home_client.close()
    other_client.close()


def test_delete_before_replace_records_the_kept_key_even_when_the_create_cannot_list_the_org(world: World) -> None:
    client = ArdentClient(world.emulator.token, api_url=world.emulator.url, retry=FAST_RETRY)
    # A list at most this old is reused; a run with other resources between the delete and the create re-lists.
    run = KeyLifecycle(client, world.emulator.org_id, warn=world.warnings.append, inventory_max_age=0)
    old = run.create(spec("dbr", **GRACE))
    news = news_of(old.spec, rotation_triggers={"r": "2"})
    assert run.plan(old, news).replaces
    run.delete(old)
    assert world.works(old.token)
    world.fault(LIST, "status", status=503)
    new = run.create(KeySpec.from_inputs(news))
    world.clear_faults()
    assert new.previous_key_id == old.key_id and new.previous_token == old.token, "the kept key has a state holding it"
    assert world.works(old.token) and world.works(new.token)
    client.close()


def test_delete_that_cannot_revoke_raises_so_the_state_keeps_the_key(world: World) -> None:
    state = world.lifecycle.create(spec("stuck"))
    world.fault(REVOKE, "status", status=503)
    with pytest.raises(ServerError):
        world.new_lifecycle().delete(state)
    assert world.works(state.token)


def test_a_key_in_another_org_is_left_with_a_warning_when_it_cannot_be_revoked(world: World) -> None:
    state = replace(world.lifecycle.create(spec("elsewhere")), org_id="org_other")
    world.lifecycle.delete(state)
    assert "org_other" in world.warnings[-1] and state.key_id in world.warnings[-1]


# -- refresh ---------------------------------------------------------------------------------------


def test_refresh_carries_the_token_and_drops_a_key_revoked_outside(world: World) -> None:
    state = world.lifecycle.create(spec("watched"))
    lifecycle = world.new_lifecycle()
    refreshed = lifecycle.refresh(state)
    assert refreshed is not None and refreshed.token == state.token and refreshed.status == "active"
    world.owner.revoke_key(world.emulator.org_id, state.key_id)
    lifecycle.inventory().invalidate()
    assert lifecycle.refresh(state) is None
    assert state.key_id in world.warnings[-1] and "revoked" in world.warnings[-1]


def test_refresh_marks_an_invalid_token_and_forgets_a_vanished_previous_key_and_pending_ones(world: World) -> None:
    state = world.lifecycle.create(spec("watched"))
    other_id, other_token = world.make_key("other")
    tampered = replace(
        state,
        token=other_token,
        previous_key_id="key_vanished",
        previous_token="sk-ard_test_vanished",
        pending_revoke_key_ids=(other_id, "key_vanished"),
    )
    refreshed = world.new_lifecycle().refresh(tampered)
    assert refreshed is not None and refreshed.status == INVALID_TOKEN
    assert refreshed.previous_key_id is None and refreshed.previous_token is None
    assert refreshed.pending_revoke_key_ids == (other_id,)
    assert "not that key's token" in world.warnings[-1]


def test_refresh_of_a_key_in_an_org_the_credentials_cannot_read_names_the_org(world: World) -> None:
    state = replace(world.lifecycle.create(spec("elsewhere")), org_id="org_other")
    with pytest.raises(ArdentConfigurationError, match="org_other"):
        world.lifecycle.refresh(state)


def test_state_of_an_earlier_release_is_read(world: World) -> None:
    state = world.lifecycle.create(spec("legacy"))
    outputs = state.to_outputs()
    for added in ("org_id", "parent_resource", "pending_revoke_key_ids"):
        outputs.pop(added)
    old = KeyState.from_outputs(state.key_id, outputs)
    assert old.org_id is None and old.pending_revoke_key_ids == ()
    assert world.lifecycle.plan(old, news_of(state.spec)).changes is False
    refreshed = world.lifecycle.refresh(old)
    assert refreshed is not None and refreshed.token == state.token and refreshed.org_id == world.emulator.org_id


# -- settings --------------------------------------------------------------------------------------


def test_verify_settings_learns_role_permissions_once(world: World) -> None:
    lifecycle = world.new_lifecycle()
    first = lifecycle.verify_settings()
    second = lifecycle.verify_settings()
    assert first is second and "projects.read" in first["role_org_member"]
    assert world.requests()["GET /v1/orgs/{org_id}/roles"] == 1
    assert lifecycle.scope_problem("role_org_member", ["projects.read"], first) is None
    problem = lifecycle.scope_problem("role_org_member", ["api_keys.write"], first)
    assert problem is not None and "api_keys.write" in problem
    assert lifecycle.scope_problem("role_unknown", ["x.y"], first) is None


def test_verify_settings_with_a_token_that_may_not_read_roles_skips_the_scope_check(world: World) -> None:
    _, token = world.make_key("pipeline", role="role_org_admin", scopes=["api_keys.read", "api_keys.write"])
    client = ArdentClient(token, api_url=world.emulator.url, retry=FAST_RETRY)
    assert KeyLifecycle(client, world.emulator.org_id).verify_settings() == {}


def test_verify_settings_with_a_revoked_token_raises_401(world: World) -> None:
    key_id, token = world.make_key("gone", role="role_org_admin")
    world.owner.revoke_key(world.emulator.org_id, key_id)
    client = ArdentClient(token, api_url=world.emulator.url, retry=FAST_RETRY)
    with pytest.raises(AuthenticationError):
        KeyLifecycle(client, world.emulator.org_id).verify_settings()


def test_adopting_while_the_token_probe_meets_a_server_error_raises_instead_of_calling_the_token_wrong(
    world: World,
) -> None:
    key_id, token = world.make_key("handmade")
    world.fault("GET /v1/orgs/{org_id}", "status", status=500)
    with pytest.raises(ServerError):
        world.lifecycle.create(spec("handmade", adopt_key_id=key_id, adopt_token=token))
    assert list(world.active()) == [key_id]


def test_closing_a_probe_client_leaves_a_shared_transport_open(world: World) -> None:
    transport = httpx.HTTPTransport()
    client = ArdentClient(world.emulator.token, api_url=world.emulator.url, transport=transport, retry=FAST_RETRY)
    with client.with_token(world.emulator.token) as probe:
        probe.get_org(world.emulator.org_id)
    assert client.get_org(world.emulator.org_id).id == world.emulator.org_id
    client.close()
    transport.close()
