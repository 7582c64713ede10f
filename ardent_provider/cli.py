"""``ardent-keys``: console commands for platform teams, built on the client.

``ardent-keys drift --stack NAME [--stack NAME ...] [--cwd DIR] [--expiring-within DAYS] [--json]`` compares
the keys that Pulumi stacks manage with the keys the Ardent org really has. It reads each stack through the
CLI's own ``pulumi stack export``, takes credentials the way the provider does (stack config, then the
environment), and needs no change to the Pulumi program. It never prints a token.

Exit codes: 0 no drift, 1 drift found, 2 could not check.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .client import ArdentClient
from .errors import ArdentError, NotFoundError
from .models import ApiKey, format_time
from .settings import Settings, resolve_settings

RESOURCE_TYPE_SUFFIX = "dynamic/ardent:ApiKey"
EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


class CheckError(Exception):
    """The check could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class ManagedKey:
    """A key that a stack's state says it manages."""

    stack: str
    resource: str
    key_id: str
    name: str | None
    kind: str


@dataclass(frozen=True)
class Finding:
    """One line of the drift report."""

    problem: str
    key_id: str
    name: str | None
    stack: str | None
    resource: str | None
    expires_at: str | None
    detail: str


def run_pulumi(args: Sequence[str], cwd: Path) -> str:
    """Run the user's ``pulumi`` with their environment; raise :class:`CheckError` on failure."""
    try:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError:
        raise CheckError("the pulumi CLI is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise CheckError(f"`pulumi {' '.join(args)}` did not finish within 300 s") from None
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise CheckError(f"`pulumi {' '.join(args)}` failed: {reason[-1] if reason else 'no output'}")
    return result.stdout


def managed_keys(stack: str, cwd: Path) -> list[ManagedKey]:
    """Every key (current and kept previous) that the stack's state records."""
    deployment = json.loads(run_pulumi(["stack", "export", "--stack", stack], cwd))
    found: list[ManagedKey] = []
    for resource in deployment.get("deployment", {}).get("resources", []) or []:
        if not str(resource.get("type", "")).endswith(RESOURCE_TYPE_SUFFIX) or resource.get("delete"):
            continue
        outputs = resource.get("outputs", {}) or {}
        name = str(resource.get("urn", "")).rsplit("::", 1)[-1]
        key_id = resource.get("id") or outputs.get("key_id")
        if isinstance(key_id, str) and key_id:
            key_name = outputs.get("name")
            found.append(ManagedKey(stack, name, key_id, key_name if isinstance(key_name, str) else None, "current"))
        previous = outputs.get("previous_key_id")
        if isinstance(previous, str) and previous:
            found.append(ManagedKey(stack, name, previous, None, "previous"))
    return found


def stack_settings(stack: str, cwd: Path) -> Settings:
    """The stack's Ardent settings: its config first (secrets decrypted), then the environment."""
    config = json.loads(run_pulumi(["config", "--stack", stack, "--show-secrets", "--json"], cwd) or "{}")
    values = {key: entry.get("value") for key, entry in config.items() if isinstance(entry, dict)}
    return resolve_settings(values)


def find_drift(
    managed: list[ManagedKey], listed: list[ApiKey], now: datetime, expiring_within: float | None, own_prefix: str
) -> list[Finding]:
    """Compare what stacks manage with what the org has."""
    by_id = {key.id: key for key in listed}
    findings: list[Finding] = []
    for item in managed:
        key = by_id.get(item.key_id)
        label = "kept previous key" if item.kind == "previous" else "key"
        if key is None:
            findings.append(
                Finding(
                    "missing",
                    item.key_id,
                    item.name,
                    item.stack,
                    item.resource,
                    None,
                    f"the stack's {label} is not active in the org: revoked or deleted outside Pulumi",
                )
            )
            continue
        expires = format_time(key.expires_at)
        if key.expires_at is not None and key.expires_at <= now:
            findings.append(
                Finding(
                    "expired", key.id, key.name, item.stack, item.resource, expires, f"the stack's {label} has expired"
                )
            )
        elif (
            expiring_within is not None
            and key.expires_at is not None
            and key.expires_at - now <= timedelta(days=expiring_within)
        ):
            left = key.expires_at - now
            findings.append(
                Finding(
                    "expiring",
                    key.id,
                    key.name,
                    item.stack,
                    item.resource,
                    expires,
                    f"expires in {left.days} d {left.seconds // 3600} h",
                )
            )
    managed_ids = {item.key_id for item in managed}
    for key in listed:
        if key.id in managed_ids or (own_prefix and key.key_prefix and own_prefix.startswith(key.key_prefix)):
            continue
        expires = format_time(key.expires_at)
        findings.append(
            Finding(
                "unmanaged", key.id, key.name, None, None, expires, "active in the org, declared by none of the stacks"
            )
        )
    return findings


def render_table(findings: list[Finding], stacks: Sequence[str]) -> str:
    """A readable report."""
    if not findings:
        return f"No drift: every key of {', '.join(stacks)} is active, and the org has no unmanaged key."
    headers = ("PROBLEM", "KEY ID", "NAME", "STACK", "RESOURCE", "EXPIRES", "DETAIL")
    rows = [
        (f.problem, f.key_id, f.name or "-", f.stack or "-", f.resource or "-", f.expires_at or "-", f.detail)
        for f in findings
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join([*lines, "", f"{len(findings)} finding(s)."])


def drift(args: argparse.Namespace) -> int:
    """The ``drift`` command."""
    cwd = Path(args.cwd).resolve()
    try:
        managed: list[ManagedKey] = []
        settings: Settings | None = None
        for stack in args.stack:
            managed.extend(managed_keys(stack, cwd))
            these = stack_settings(stack, cwd)
            if settings is not None and (these.api_url, these.org_id) != (settings.api_url, settings.org_id):
                raise CheckError(
                    f"stack {stack} uses another org or API URL than {args.stack[0]}; check them separately"
                )
            settings = these
        assert settings is not None
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            listed = client.list_keys(settings.org_id)
            now = client.server_now()
        findings = find_drift(managed, listed, now, args.expiring_within, settings.token.reveal()[:20])
    except (CheckError, ArdentError, ValueError) as error:
        if args.json:
            print(json.dumps({"error": str(error)}))
        print(f"ardent-keys drift: could not check: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        payload: dict[str, Any] = {
            "stacks": args.stack,
            "org_id": settings.org_id,
            "checked_at": format_time(now),
            "managed_keys": len(managed),
            "org_keys": len(listed),
            "drift": bool(findings),
            "findings": [asdict(finding) for finding in findings],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(render_table(findings, args.stack))
    return EXIT_DRIFT if findings else EXIT_CLEAN


def revoke(args: argparse.Namespace) -> int:
    """The ``revoke`` command: revoke keys that no stack manages, such as orphans of a killed run."""
    cwd = Path(args.cwd).resolve()
    try:
        settings = stack_settings(args.stack, cwd)
        managed = {item.key_id for item in managed_keys(args.stack, cwd)}
        refused = [key_id for key_id in args.key_id if key_id in managed]
        if refused:
            raise CheckError(
                f"stack {args.stack} manages {', '.join(refused)}; remove it from the program and run `pulumi up` "
                "instead, so that the state stays true"
            )
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            for key_id in args.key_id:
                try:
                    client.revoke_key(settings.org_id, key_id)
                    print(f"revoked {key_id}")
                except NotFoundError:
                    print(f"{key_id} was already revoked or does not exist")
    except (CheckError, ArdentError, ValueError) as error:
        print(f"ardent-keys revoke: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_CLEAN


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``ardent-keys``."""
    parser = argparse.ArgumentParser(prog="ardent-keys", description="Tools for managing Ardent API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "drift",
        help="compare the keys that Pulumi stacks manage with the org's keys",
        description="Report managed keys that are missing (revoked or deleted), expired or expiring, and "
        "unmanaged keys in the org. Exit 0: no drift; 1: drift; 2: could not check.",
    )
    check.add_argument("--stack", action="append", required=True, help="a stack to read (repeat for several)")
    check.add_argument("--cwd", default=".", help="the Pulumi project directory (default: the current one)")
    check.add_argument("--expiring-within", type=float, metavar="DAYS", help="also report keys expiring that soon")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(handler=drift)
    revoker = commands.add_parser(
        "revoke",
        help="revoke keys that no stack manages (for example orphans that drift reported)",
        description="Revoke the given keys with the stack's credentials; keys the stack manages are refused.",
    )
    revoker.add_argument("--stack", required=True, help="the stack whose credentials to use")
    revoker.add_argument("--cwd", default=".", help="the Pulumi project directory (default: the current one)")
    revoker.add_argument("key_id", nargs="+", help="ids of the keys to revoke")
    revoker.set_defaults(handler=revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ardent-keys``."""
    args = build_parser().parse_args(argv)
    if getattr(args, "expiring_within", None) is not None and args.expiring_within < 0:
        print("ardent-keys drift: --expiring-within must be zero or more days", file=sys.stderr)
        return EXIT_ERROR
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
