"""The drift comparison itself: what counts as missing, expired, expiring and unmanaged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ardent_provider.cli import ManagedKey, find_drift, render_table
from ardent_provider.models import ApiKey

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def key(key_id: str, expires_in_days: float | None = None, prefix: str = "sk-ard_test_xxxxxxxx") -> ApiKey:
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return ApiKey(id=key_id, name=key_id, key_prefix=prefix, scopes=(), created_at=NOW, expires_at=expires)


def test_findings_across_several_stacks() -> None:
    managed = [
        ManagedKey("prod", "api", "key_ok", "api", "current"),
        ManagedKey("prod", "api", "key_prev", None, "previous"),
        ManagedKey("staging", "ci", "key_gone", "ci", "current"),
        ManagedKey("staging", "old", "key_expired", "old", "current"),
        ManagedKey("staging", "soon", "key_soon", "soon", "current"),
    ]
    listed = [
        key("key_ok"),
        key("key_prev", 300),
        key("key_expired", -1),
        key("key_soon", 3),
        key("key_by_hand"),
        key("key_self", prefix="sk-ard_test_SELFSELF"),
    ]
    findings = find_drift(managed, listed, NOW, 7, own_prefix="sk-ard_test_SELFSELFandmore")
    assert sorted((f.problem, f.key_id, f.stack) for f in findings) == [
        ("expired", "key_expired", "staging"),
        ("expiring", "key_soon", "staging"),
        ("missing", "key_gone", "staging"),
        ("unmanaged", "key_by_hand", None),
    ]
    table = render_table(findings, ["prod", "staging"])
    assert "PROBLEM" in table and "4 finding(s)." in table


def test_no_findings_reads_as_no_drift() -> None:
    assert render_table([], ["prod"]).startswith("No drift")
    assert find_drift([ManagedKey("prod", "api", "key_ok", "api", "current")], [key("key_ok")], NOW, None, "") == []
