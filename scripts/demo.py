"""Run the quickstart against a fresh local emulator and confirm the result live. Started by scripts/demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

from ardent_provider import ArdentClient, ArdentError
from ardent_provider.testing.pulumi_cli import PulumiCLI, PulumiCommandError

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo"
STACK = "demo"
PASSPHRASE = "ardent-demo-passphrase"  # noqa: S105 - protects only the throwaway demo stack
KEY_NAME = "Production-Test"
JUST_NOW = timedelta(minutes=5)


def start_emulator() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the emulator on a free loopback port and read the credentials it bootstraps."""
    credentials_path = DEMO_DIR / "emulator" / "credentials.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ardent_provider.emulator",
            "--port",
            "0",
            "--db",
            str(DEMO_DIR / "emulator" / "emulator.db"),
            "--credentials",
            str(credentials_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    url = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        print(f"  emulator | {line.rstrip()}")
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            url = found.group(1)
        if line.startswith("Org id:"):
            break
    if url is None:
        process.kill()
        raise SystemExit("demo: the emulator did not start; see its messages above.")
    credentials = json.loads(credentials_path.read_text())
    return process, credentials


def confirm(credentials: dict[str, str], token: str, key_id: str, role: str) -> list[tuple[bool, str]]:
    """The seed guide's four confirmations, checked live against the emulator."""
    results: list[tuple[bool, str]] = []
    with ArdentClient(credentials["token"], api_url=credentials["api_url"]) as owner:
        listed = {key.id: key for key in owner.list_keys(credentials["org_id"])}
        now = owner.server_now()
    key = listed.get(key_id)
    results.append(
        (
            key is not None and key.name == KEY_NAME,
            f"the key is listed in the org with name {KEY_NAME!r}"
            + (f" (id {key_id})" if key is not None else f" — key {key_id} is NOT listed"),
        )
    )
    try:
        with ArdentClient(token, api_url=credentials["api_url"]) as new_key:
            visible = len(new_key.list_keys(credentials["org_id"]))
        admin_proof = f"and the new token listed the org's {visible} keys, which needs api_keys.read (admin/owner only)"
        admin_ok = True
    except ArdentError as error:
        admin_proof, admin_ok = f"but the new token could not list keys: {error}", False
    results.append(
        (
            role == "role_org_admin" and admin_ok,
            f"its role is Admin: recorded at creation as {role!r}, {admin_proof}",
        )
    )
    results.append(
        (
            token.startswith("sk-ard_test_"),
            f"its token starts with 'sk-ard_test_' (prefix {token[:12]!r}, rest hidden)",
        )
    )
    created = key.created_at if key else None
    fresh = created is not None and abs(now - created) <= JUST_NOW
    active = key is not None and (key.expires_at is None or key.expires_at > now)
    results.append(
        (
            fresh and active,
            f"it is active (expires: {key.expires_at.isoformat() if key and key.expires_at else 'never'}) and was "
            f"created just now ({created.astimezone(UTC).isoformat() if created else 'unknown'}, "
            f"service time {now.isoformat(timespec='seconds')})",
        )
    )
    return results


def main() -> int:
    """Run the demo; the exit status is 0 only when every confirmation holds."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    (DEMO_DIR / "emulator").mkdir(parents=True)
    print("==> Starting the local Ardent API emulator")
    emulator, credentials = start_emulator()
    try:
        cli = PulumiCLI(ROOT, DEMO_DIR / "pulumi", PASSPHRASE)
        print(f"==> Pulumi {cli.run('version').stdout.strip()}, local file backend in {cli.backend_dir}")
        cli.select_stack(STACK)
        cli.set_config("ardent:apiUrl", credentials["api_url"])
        cli.set_config("ardent:orgId", credentials["org_id"])
        cli.set_config("ardent:token", credentials["token"], secret=True)
        print("==> pulumi up (examples/quickstart)")
        up = cli.run("up", "--yes", "--skip-preview")
        print(up.stdout.rstrip())
        print("==> pulumi stack output")
        print(cli.run("stack", "output").stdout.rstrip())
        outputs = cli.outputs(show_secrets=True)
        results = confirm(
            credentials,
            outputs["production_test_token"],
            outputs["production_test_key_id"],
            outputs["production_test_role"],
        )
    except PulumiCommandError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    print("==> Confirmed live against the emulator")
    for passed, text in results:
        print(f"  [{'ok' if passed else 'FAILED'}] {text}")
    ok = all(passed for passed, _ in results)
    print(
        "\nThe stack's state is in .demo/pulumi; the token is encrypted there. "
        + ("Demo succeeded." if ok else "Demo FAILED.")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
