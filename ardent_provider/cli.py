"""``ardent-keys``: the platform team's commands, as a command line (arguments and exit codes only).

``drift`` checks that the keys the given stacks manage are in order (``--unmanaged`` also lists the org's keys
that none of them manage); ``revoke`` revokes keys that no stack of the backend manages, after showing the plan;
``audit`` judges every key of an org; ``policy-pack`` runs the CrossGuard pack. The work is done in
:mod:`ardent_provider.platform`. None of them prints a token.

Exit codes of ``drift``: 0 the stacks' keys are in order, 1 drift found, 2 could not check.
Exit codes of ``revoke``: 0 every key revoked (or, with ``--dry-run``, would be), 1 some key refused, or
skipped because it changed since the plan, 2 could not check or not confirmed (nothing revoked), or some
revocation failed.
Exit codes of ``audit``: 0 no finding, 1 at least one finding, 2 could not check.
Any command that meets an error it did not expect exits 2 with one line on stderr: 1 never means a crash.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from . import __version__
from .errors import ArdentError
from .files import write_atomic
from .models import SecretToken
from .platform.audit import (
    DEFAULT_EXPIRING_WITHIN_DAYS,
    DEFAULT_STALE_AFTER_DAYS,
    AuditPolicy,
    build_report,
    render_audit_table,
)
from .platform.drift import drift_findings, drift_report, render_drift_table
from .platform.orgs import (
    OrgFailure,
    OrgReading,
    failures_json,
    read_each_org,
    read_environment_org,
    read_orgs,
    render_failures,
    with_credentials,
)
from .platform.revoke import (
    DEFAULT_MIN_AGE_MINUTES,
    FAILED,
    REVOKED,
    RevokeDecision,
    carry_out,
    plan_revocations,
    render_outcome,
    render_plan,
)
from .platform.stacks import (
    BackendKeys,
    CheckError,
    ManagedKey,
    PendingOperation,
    StackView,
    load_projects,
    read_backend_keys,
    read_stacks,
)
from .policy.launcher import add_policy_pack_parser
from .settings import TOKEN_MARKER

EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_REVOKED, EXIT_REFUSED, EXIT_NOT_CONFIRMED = 0, 1, 2
MAX_DAYS = 36500
STACK_READS = (
    "What is read: each given stack's state (`pulumi stack export`) and its ardent:* config, secrets decrypted "
    "(`pulumi config --show-secrets --json`); where a stack's keys are managed by an explicit ardent provider "
    "(`pulumi:providers:ardent`), and, for revoke and drift --unmanaged, for every stack of the backend that holds "
    "ardent providers, `pulumi stack export --show-secrets`, so that the stack's own secrets provider decrypts "
    "the tokens those providers run with. Tokens stay in memory: none is printed or written."
)
MAX_MINUTES = MAX_DAYS * 24 * 60


def _say_error(command: str, reason: str, *, as_json: bool = False) -> int:
    """Report a run that could not be made (also as ``{"error": ...}`` on stdout for ``--json``)."""
    if as_json:
        print(json.dumps({"error": reason}))
    print(f"ardent-keys {command}: {reason}", file=sys.stderr)
    return EXIT_ERROR


def _days_problem(option: str, value: float | None) -> str | None:
    if value is None or (math.isfinite(value) and 0 <= value <= MAX_DAYS):
        return None
    return f"{option} must be a number of days from 0 to {MAX_DAYS}"


def _one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message, cut short before any token."""
    text = (str(error).strip().splitlines() or [""])[0]
    if TOKEN_MARKER in text:
        text = text[: text.index(TOKEN_MARKER)] + "[token not shown]"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- drift --------------------------------------------------------------------------------------------


def drift(args: argparse.Namespace) -> int:
    """The ``drift`` command."""
    problem = _days_problem("--expiring-within", args.expiring_within)
    if problem:
        # Refused before any stack is read, without the "could not check" of a check that was tried.
        return _say_error("drift", problem, as_json=args.json)
    unread_stacks: dict[str, str] = {}
    try:
        views = read_stacks(args)
        readings, failures = read_each_org(views)
        if not readings:
            raise CheckError("; ".join(failure.reason for failure in failures))
        if args.unmanaged:
            # The keys any provider of any stack of the backend runs with are accounted for, not unmanaged; a
            # stack that could not be read leaves its providers' keys unknown, which the report must say.
            backend = _backend_keys(args, views)
            readings = with_credentials(readings, backend.credentials)
            unread_stacks = dict(backend.unreadable)
        findings = drift_findings(
            views,
            readings,
            args.expiring_within,
            unmanaged=args.unmanaged,
            failures=failures,
            unread_stacks=unread_stacks,
        )
    except (CheckError, ArdentError, ValueError) as error:
        return _say_error("drift", f"could not check: {error}", as_json=args.json)
    if args.json:
        print(json.dumps(drift_report(views, readings, findings, unmanaged=args.unmanaged), indent=2))
    else:
        orgs = [reading.org_id for reading in readings]
        labels = [view.ref.label for view in views]
        print(render_drift_table(findings, labels, orgs, unmanaged=args.unmanaged))
    if failures or unread_stacks:
        return EXIT_ERROR
    return EXIT_DRIFT if findings else EXIT_CLEAN


# -- revoke -------------------------------------------------------------------------------------------


def _backend_keys(args: argparse.Namespace, views: Sequence[StackView]) -> BackendKeys:
    """Every stack of each given project's backend, the given stacks included; each stack read once.

    What they manage and what operations they have pending, whoever's stacks they are.
    """
    managed: list[ManagedKey] = []
    pending: list[PendingOperation] = []
    labels: list[str] = []
    unreadable: dict[str, str] = {}
    credentials: list[tuple[str, SecretToken]] = []
    for project in load_projects(args.cwd or ["."]):
        found = read_backend_keys(project, already_read=labels)
        managed.extend(found.managed)
        pending.extend(found.pending)
        labels.extend(found.stacks)
        unreadable.update(found.unreadable)
        credentials.extend(found.credentials)
    missing = [view.ref.label for view in views if view.ref.label not in labels]
    if missing:
        raise CheckError(
            f"`pulumi stack ls --all` did not list stack(s) {', '.join(missing)}; the backend that was read is "
            "not the one those stacks live in (check `pulumi whoami -v` in each project directory)"
        )
    return BackendKeys(tuple(managed), tuple(sorted(labels)), unreadable, tuple(pending), tuple(credentials))


def revoke(args: argparse.Namespace, *, ask: Callable[[str], str] = input, interactive: bool | None = None) -> int:
    """The ``revoke`` command: show the plan, confirm, then revoke the keys no stack of the backend manages.

    Each key is revoked in the org that lists it, with the credentials that org was read with, after its org is
    listed again and the backend's stacks read again: a key that changed since the plan is skipped.
    """
    if not (math.isfinite(args.min_age) and 0 <= args.min_age <= MAX_MINUTES):
        return _say_error("revoke", f"--min-age must be a number of minutes from 0 to {MAX_MINUTES}; nothing revoked")
    try:
        views = read_stacks(args)
        readings = read_orgs(views)
        backend = _backend_keys(args, views)
        # A key any provider of any stack of the backend runs with is a credential, whichever stack it is.
        readings = with_credentials(readings, backend.credentials)
    except (CheckError, ArdentError, ValueError) as error:
        return _say_error("revoke", f"could not check, nothing revoked: {error}")
    managed = [item for view in views for item in view.managed]
    pending = [operation for view in views for operation in view.pending]
    decisions = plan_revocations(
        args.key_id,
        readings,
        managed,
        backend,
        pending=pending,
        allow_recently_used=args.allow_recently_used,
        min_age=timedelta(minutes=args.min_age),
    )
    approved = [decision for decision in decisions if decision.revoke]
    print(render_plan(decisions))
    print(f"\nPlan: {len(approved)} to revoke, {len(decisions) - len(approved)} refused.")
    if args.dry_run:
        print("Dry run: nothing revoked.")
        return EXIT_REVOKED if len(approved) == len(decisions) else EXIT_REFUSED
    if approved and not args.yes:
        on_terminal = sys.stdin.isatty() if interactive is None else interactive
        if not on_terminal:
            return _say_error(
                "revoke",
                "nothing revoked: revoking needs confirmation, and there is no terminal to ask on; read the plan "
                "above and run again with --yes (or --dry-run to only see the plan)",
            )
        question = f"Revoke the {len(approved)} key(s) marked revoke above? Their tokens stop working at once. [y/N] "
        try:
            answer = ask(question)
        except EOFError:  # the input closed (Ctrl-D): no answer is no confirmation
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not confirmed: nothing revoked.")
            return EXIT_NOT_CONFIRMED
    return _revoke_approved(args, views, decisions, readings)


def _revoke_approved(
    args: argparse.Namespace,
    views: Sequence[StackView],
    decisions: Sequence[RevokeDecision],
    readings: Sequence[OrgReading],
) -> int:
    """Read the backend's stacks again, then revoke each approved key unless it changed since the plan."""
    fresh: BackendKeys | None = None
    if any(decision.revoke for decision in decisions):
        try:
            # The plan may have waited for a person, and a pipeline may have recorded a key meanwhile.
            fresh = _backend_keys(args, views)
        except (CheckError, ArdentError, ValueError) as error:
            return _say_error(
                "revoke", f"could not read the backend's stacks again before revoking, nothing revoked: {error}"
            )
    managed = [item for view in views for item in view.managed]
    pending = [operation for view in views for operation in view.pending]

    def judge_again(key_id: str, reading: OrgReading) -> RevokeDecision:
        """The plan's rules for one key, over its org as just listed and the backend's stacks as just read."""
        if fresh is not None:
            [reading] = with_credentials([reading], fresh.credentials)  # a provider added since the plan counts
        return plan_revocations(
            [key_id],
            [reading],
            managed,
            fresh,
            pending=pending,
            allow_recently_used=args.allow_recently_used,
            min_age=timedelta(minutes=args.min_age),
        )[0]

    outcomes = {REVOKED: 0, FAILED: 0}
    for decision, outcome, reason in carry_out(decisions, readings, judge_again):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print(render_outcome(decision, outcome, reason))
    revoked = outcomes[REVOKED]
    print(f"{revoked} revoked, {len(decisions) - revoked} not revoked.")
    if outcomes[FAILED]:
        print(
            f"ardent-keys revoke: {outcomes[FAILED]} key(s) could not be revoked; see the lines marked failed",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_REVOKED if revoked == len(decisions) else EXIT_REFUSED


# -- audit --------------------------------------------------------------------------------------------


def audit(args: argparse.Namespace) -> int:
    """The ``audit`` command."""
    for option, value in (("--stale-after", args.stale_after), ("--expiring-within", args.expiring_within)):
        problem = _days_problem(option, value)
        if problem:
            return _say_error("audit", problem, as_json=args.json)
    stacks_given = bool(args.stack or args.all_stacks)
    if args.cwd and not stacks_given:
        return _say_error(
            "audit",
            "--cwd names projects whose stacks to read: give --stack NAME or --all-stacks with it",
            as_json=args.json,
        )
    policy = AuditPolicy(args.stale_after, args.expiring_within, stacks_given)
    failures: list[OrgFailure] = []
    try:
        if stacks_given:
            views = read_stacks(args)
            readings, failures = read_each_org(views)
            if not readings:
                raise CheckError("; ".join(failure.reason for failure in failures))
        else:
            views, readings = [], [read_environment_org()]
        report = build_report(views, readings, policy)
    except (CheckError, ArdentError, ValueError) as error:
        return _say_error("audit", f"could not check: {error}", as_json=args.json)
    if args.html:
        # Imported here: the page's module is needed only with --html.
        from .platform.audit_html import render_page

        try:
            write_atomic(Path(args.html), render_page(report))
        except OSError as error:
            return _say_error("audit", f"could not write {args.html}: {error.strerror or error}", as_json=args.json)
    if args.json:
        document = report.as_json()
        document["clean"] = document["clean"] and not failures
        document["unreadable_orgs"] = failures_json(failures)
        print(json.dumps(document, indent=2))
    else:
        if failures:
            print("\n".join(render_failures(failures)) + "\n")
        print(render_audit_table(report))
    if args.html:
        print(f"ardent-keys audit: wrote {args.html} ({len(report.keys)} key(s))", file=sys.stderr)
    if failures:
        return EXIT_ERROR
    return EXIT_DRIFT if report.flagged else EXIT_CLEAN


# -- the parser ---------------------------------------------------------------------------------------


def add_stack_options(parser: argparse.ArgumentParser, *, stacks_required: bool = True) -> None:
    """``--cwd DIR`` (repeatable) and one of ``--stack NAME`` (repeatable) or ``--all-stacks``.

    ``stacks_required=False`` lets a command run without stacks (``audit`` then reads ``ARDENT_*`` only).
    The parser's epilog says what is read and decrypted.
    """
    parser.epilog = STACK_READS
    parser.add_argument(
        "--cwd",
        action="append",
        metavar="DIR",
        help="a Pulumi project directory (repeat for several; default: the current directory)",
    )
    which = parser.add_mutually_exclusive_group(required=stacks_required)
    which.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="a stack to read, NAME or org/project/stack (the project picks the --cwd directory); repeatable"
        + ("" if stacks_required else " (without it: ARDENT_* only)"),
    )
    which.add_argument("--all-stacks", action="store_true", help="every stack of every given project")


def _add_drift_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "drift",
        help="check that the keys Pulumi stacks manage are in order in their orgs",
        description="Report the given stacks' own keys that are missing (revoked or deleted), expired, expiring "
        "(with --expiring-within), awaiting revocation, changed outside Pulumi, held up by an operation an "
        "interrupted run left pending, or left active by an interrupted delete-before-replace; other keys of "
        "the org are not the stacks' business and are ignored "
        "unless --unmanaged is given. Exit 0: the stacks' keys are in order; 1: drift; 2: could not check.",
    )
    add_stack_options(parser)
    parser.add_argument("--expiring-within", type=float, metavar="DAYS", help="also report keys expiring that soon")
    parser.add_argument(
        "--unmanaged",
        action="store_true",
        help="also report the org's active keys that none of the given stacks manage (the platform team's "
        "nightly check, with --all-stacks and every project's --cwd)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=drift)


def _add_revoke_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "revoke",
        help="revoke keys that no stack of the backend manages (for example orphans that drift reported)",
        description="Show the plan for each given key (name, role, created, last used, verdict), then, once "
        "confirmed on a terminal or with --yes, revoke each approved key in the org that lists it, with that "
        "org's credentials from the given stacks (--cwd/--stack choose whose). Refused: keys active in none of "
        "those orgs, the keys this command runs with, any given stack's token, keys that any stack of the "
        "backend manages or has an operation pending about (every project's, as `pulumi stack ls --all` lists "
        "them), keys created less than --min-age minutes ago, and keys used within the last day; while a stack "
        "of the backend cannot be read, every key. Just before each approved key is revoked, its org is listed "
        "and the backend's stacks read again: a key that changed since the plan is skipped. Exit 0: all "
        "revoked; 1: something refused or skipped; 2: could not check, not confirmed (nothing revoked), or a "
        "revocation failed.",
    )
    add_stack_options(parser)
    parser.add_argument("key_id", nargs="+", help="ids of the keys to revoke")
    parser.add_argument("--yes", "-y", action="store_true", help="revoke without asking (for scripts)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and exit 0 (all would be revoked) or 1; revoke nothing"
    )
    parser.add_argument(
        "--allow-recently-used",
        action="store_true",
        help="also revoke keys used within the last day (refused by default: their tokens may still be in use)",
    )
    parser.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE_MINUTES,
        metavar="MINUTES",
        help="refuse keys created less than this long ago: a running `pulumi up` may have made them and not yet "
        f"recorded them in its stack (default: {DEFAULT_MIN_AGE_MINUTES:g}; 0 checks no age)",
    )
    parser.set_defaults(handler=revoke)


def _add_audit_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "audit",
        help="judge every active key of the org: unused, stale, no expiry, expiring, expired, unmanaged",
        description="List every active key of the org with its findings: never used, stale (unused for more "
        "than --stale-after days), no expiry, expiring (within --expiring-within days), expired, all the "
        "scopes of its role (no scopes) and, with stacks, unmanaged. With --stack or --all-stacks, every org "
        "the stacks use, with their credentials; without, the org of ARDENT_ORG_ID with ARDENT_TOKEN (at "
        "ARDENT_API_URL). Exit 0: no finding; 1: findings; 2: could not check.",
    )
    add_stack_options(parser, stacks_required=False)
    parser.add_argument(
        "--stale-after",
        type=float,
        default=DEFAULT_STALE_AFTER_DAYS,
        metavar="DAYS",
        help=f"a key last used longer ago than this is stale (default: {DEFAULT_STALE_AFTER_DAYS:g})",
    )
    parser.add_argument(
        "--expiring-within",
        type=float,
        default=DEFAULT_EXPIRING_WITHIN_DAYS,
        metavar="DAYS",
        help=f"a key expiring this soon is expiring (default: {DEFAULT_EXPIRING_WITHIN_DAYS:g})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with a timeline")
    parser.set_defaults(handler=audit)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``ardent-keys``."""
    parser = argparse.ArgumentParser(prog="ardent-keys", description="Tools for managing Ardent API keys.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_drift_parser(commands)
    _add_revoke_parser(commands)
    _add_audit_parser(commands)
    add_policy_pack_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ardent-keys``."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    try:
        result: int = handler(args)
    except Exception as error:
        # An error no command expected is a bug, not a finding: exit 2, never 1, and no traceback on a user.
        return _say_error(
            args.command,
            f"stopped by an unexpected error ({_one_line(error)}); this is a bug in ardent-keys "
            f"{__version__}: please report it with the command you ran",
            as_json=bool(getattr(args, "json", False)),
        )
    return result


if __name__ == "__main__":
    sys.exit(main())
