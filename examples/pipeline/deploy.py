#!/usr/bin/env python3
"""A deployment job's Ardent step, with Pulumi's Automation API: deploy the keys, hand the tokens on, check drift.

    python deploy.py up    --stack production [--cwd DIR] [--output NAME ...] [--outputs-file PATH]
    python deploy.py drift --stack production [--cwd DIR] [--expiring-within DAYS]

``up`` selects the stack (creating it when it does not exist yet), runs ``pulumi up``, and hands the named
outputs (by default every secret output, such as a key's token) to the next step without printing them:

* on GitHub Actions (``GITHUB_ACTIONS=true``) each value is masked with ``::add-mask::`` first, so the runner
  hides it in every later log line, then appended to ``$GITHUB_OUTPUT`` (read it in a later step of the
  same job as ``steps.<id>.outputs.<name>``);
* anywhere else, or with ``--outputs-file``, they are written as one JSON object to a file that only its
  owner can read (mode 0600), and only its path is printed. Unless told otherwise the file is
  ``$RUNNER_TEMP/ardent-outputs.json`` when ``RUNNER_TEMP`` is set (a CI runner's temporary directory,
  emptied after each job), else ``ardent-outputs.json`` in a new private temporary directory (mode 0700):
  never in the workspace, where a later step could commit, cache or upload it.

``drift`` is the gate to run before a deploy or on a schedule: ``pulumi preview --refresh`` must propose no
change, and ``ardent-keys drift`` must find none of the stack's own keys missing, expired, expiring within the
given days, changed outside Pulumi or held by a pending operation; other teams' keys in the org do not fail it.
It changes nothing.

Exit codes: 0 = deployed / no drift; 1 = ``pulumi up`` failed / drift found; 2 = the job is misconfigured or
the check could not run (no such stack, no such output, ``$GITHUB_OUTPUT`` unset, ...).

Credentials come from the stack's config (``pulumi config set --secret ardent:token ...``) or from
``ARDENT_TOKEN`` / ``ARDENT_ORG_ID`` / ``ARDENT_API_URL``; the backend and the passphrase from the usual
``PULUMI_*`` variables. The ``pulumi`` CLI must be on ``PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from ardent_provider.cli import main as ardent_keys

EXIT_OK, EXIT_FAILED, EXIT_MISCONFIGURED = 0, 1, 2
OUTPUTS_FILE_NAME = "ardent-outputs.json"


def log(message: str) -> None:
    """A line of the job's log; never called with a secret value."""
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def echo(line: str) -> None:
    """Stream Pulumi's own output to the job's log (Pulumi shows secret values as [secret])."""
    print(line, flush=True)


def deploy(args: argparse.Namespace) -> int:
    """Select or create the stack, run `pulumi up`, and hand the chosen outputs to the next step."""
    github = os.environ.get("GITHUB_ACTIONS") == "true" and args.outputs_file is None
    if github and not os.environ.get("GITHUB_OUTPUT"):
        log("GITHUB_ACTIONS is true but GITHUB_OUTPUT is not set: run this script as a step of a GitHub job.")
        return EXIT_MISCONFIGURED
    try:
        stack = auto.create_or_select_stack(stack_name=args.stack, work_dir=str(args.cwd))
        log(f"running `pulumi up` on stack {args.stack} in {args.cwd}")
        result = stack.up(on_output=echo, color="never")
    except auto.CommandError as error:
        log(f"`pulumi up` failed on stack {args.stack} (exit code {getattr(error, 'code', '?')}); see above.")
        return EXIT_FAILED
    outputs: Mapping[str, auto.OutputValue] = result.outputs
    names = args.output or sorted(name for name, output in outputs.items() if output.secret)
    missing = [name for name in names if name not in outputs]
    if missing:
        log(f"the stack has no output {', '.join(missing)}; it exports: {', '.join(sorted(outputs)) or 'nothing'}.")
        return EXIT_MISCONFIGURED
    values = {name: as_text(outputs[name].value) for name in names}
    if github:
        hand_to_github(values, Path(os.environ["GITHUB_OUTPUT"]))
        log(f"handed {', '.join(values) or 'no output'} to the next step through $GITHUB_OUTPUT (masked)")
    else:
        path = args.outputs_file or default_outputs_file()
        write_private_json(path, values)
        log(f"wrote {', '.join(values) or 'no output'} to {path.resolve()} (mode 0600)")
    return EXIT_OK


def default_outputs_file(environ: Mapping[str, str] | None = None) -> Path:
    """``$RUNNER_TEMP/ardent-outputs.json``, else the file in a new private temporary directory (mode 0700)."""
    env = os.environ if environ is None else environ
    runner_temp = env.get("RUNNER_TEMP")
    if runner_temp:
        return Path(runner_temp) / OUTPUTS_FILE_NAME
    return Path(tempfile.mkdtemp(prefix="ardent-outputs-")) / OUTPUTS_FILE_NAME


def as_text(value: Any) -> str:
    """An output value as the text a later step receives."""
    return value if isinstance(value, str) else json.dumps(value)


def hand_to_github(values: Mapping[str, str], github_output: Path) -> None:
    """Mask every value in the runner's log, then append it to ``$GITHUB_OUTPUT``."""
    for value in values.values():
        for line in value.splitlines():
            if line.strip():
                # A workflow command, read by the runner and never shown: later lines hide this text.
                print(f"::add-mask::{line}", flush=True)
    with github_output.open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            if "\n" in value:
                delimiter = f"ardent_{secrets.token_hex(16)}"
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                handle.write(f"{name}={value}\n")


def write_private_json(path: Path, values: Mapping[str, str]) -> None:
    """Replace ``path`` with the values as JSON; the file is 0600 before any byte is written."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".ardent-outputs-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_drift(args: argparse.Namespace) -> int:
    """`pulumi preview --refresh` must propose nothing, and `ardent-keys drift` must find nothing."""
    try:
        stack = auto.select_stack(stack_name=args.stack, work_dir=str(args.cwd))
        log(f"running `pulumi preview --refresh` on stack {args.stack}")
        preview = stack.preview(refresh=True, on_output=echo, color="never")
    except auto.StackNotFoundError:
        log(f"there is no stack {args.stack} in {args.cwd}: deploy it first, or check --stack and the backend.")
        return EXIT_MISCONFIGURED
    except auto.CommandError:
        log("`pulumi preview --refresh` failed, so drift could not be checked; see above.")
        return EXIT_MISCONFIGURED
    summary = {str(getattr(op, "value", op)): count for op, count in preview.change_summary.items()}
    changes = {op: count for op, count in summary.items() if op != "same" and count}
    verdict = EXIT_FAILED if changes else EXIT_OK
    log("the preview proposes " + (", ".join(f"{n} {op}" for op, n in sorted(changes.items())) or "no change"))
    command = ["drift", "--cwd", str(args.cwd), "--stack", args.stack]
    if args.expiring_within is not None:
        command += ["--expiring-within", str(args.expiring_within)]
    log(f"running `ardent-keys {' '.join(command)}`")
    keys = ardent_keys(command)
    if EXIT_MISCONFIGURED in (verdict, keys):
        return EXIT_MISCONFIGURED
    return EXIT_FAILED if EXIT_FAILED in (verdict, keys) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(prog="deploy.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("up", "deploy and hand the outputs on"), ("drift", "check for drift; change nothing")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("--stack", required=True, help="the stack to deploy or check, such as production")
        command.add_argument("--cwd", type=Path, default=Path(), help="the Pulumi project directory (default: .)")
    up = commands.choices["up"]
    up.add_argument("--output", action="append", help="an output to hand on (repeatable; default: every secret)")
    up.add_argument(
        "--outputs-file",
        type=Path,
        help=f"write the outputs here (default: $RUNNER_TEMP/{OUTPUTS_FILE_NAME}, else a new private temporary "
        "directory)",
    )
    drift = commands.choices["drift"]
    drift.add_argument("--expiring-within", type=float, metavar="DAYS", help="also fail on keys expiring that soon")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; the exit code is the step's verdict."""
    args = build_parser().parse_args(argv)
    if not (args.cwd / "Pulumi.yaml").is_file():
        log(f"{args.cwd.resolve()} holds no Pulumi.yaml: give the project directory with --cwd.")
        return EXIT_MISCONFIGURED
    args.cwd = args.cwd.resolve()
    return deploy(args) if args.command == "up" else check_drift(args)


if __name__ == "__main__":
    sys.exit(main())
