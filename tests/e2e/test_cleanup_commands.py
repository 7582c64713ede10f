"""Day-2 cleanup with the real CLI: drift and revoke over several projects, and configuration mistakes.

Every project shares one backend and one emulator org, as a platform team's projects do; every stack runs
with the emulator's owner token, so that token's key is the running credential throughout.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI

from ..conftest import FAST_RETRY
from .conftest import KEYS_PROGRAM, PASSPHRASE, STACK, Stack, age_keys, for_kind, make_stack

pytestmark = pytest.mark.e2e


def sibling_project(first: Stack, tmp_path: Path, project: str, kind: str | None = None) -> Stack:
    """A second project beside ``first``, on the same backend and emulator, with its own stack ``e2e``.

    Its keys are of ``kind`` (``first``'s by default): teams of one org may use either resource type.
    """
    directory = tmp_path / project
    shutil.copytree(
        first.project_dir,
        directory,
        ignore=shutil.ignore_patterns("keys.json", "__pycache__", "Pulumi.*.yaml"),
    )
    settings = directory / "Pulumi.yaml"
    settings.write_text(re.sub(r"(?m)^name:.*$", f"name: {project}", settings.read_text(), count=1))
    kind = kind or first.kind
    (directory / "__main__.py").write_text(for_kind(KEYS_PROGRAM, kind))
    cli = PulumiCLI(directory, first.cli.state_dir, PASSPHRASE, extra_env=first.cli.extra_env)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", first.emulator.url)
    cli.set_config("ardent:orgId", first.emulator.org_id)
    cli.set_config("ardent:token", first.emulator.token, secret=True)
    return Stack(cli, first.emulator, directory, project, kind)


def wire_keys(emulator: EmulatorServer) -> dict[str, dict[str, object]]:
    """The org's keys exactly as the service sends them."""
    response = httpx.get(
        f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys", headers={"Authorization": f"Bearer {emulator.token}"}
    )
    return {item["id"]: item for item in response.json()}


def test_cleanup_over_two_projects_never_offers_another_stacks_key_or_the_running_one(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    web = make_stack(tmp_path, emulator, KEYS_PROGRAM, project="ardent-web")
    # The batch team declares its key with the native type: the commands treat both alike.
    batch = sibling_project(web, tmp_path, "ardent-batch", kind="native")
    web.write_keys([{"resource": "webapi", "role": "Viewer"}])
    batch.write_keys([{"resource": "batchjob", "role": "Viewer", "expires_in_days": 30}])
    web.up()
    batch.up()
    web_key, batch_key = web.cli.outputs()["webapi_key_id"], batch.cli.outputs()["batchjob_key_id"]
    with web.owner() as owner:
        orphan = owner.create_key(emulator.org_id, name="orphan-by-hand", role="role_org_viewer", expires_days=10)
    running = next(key_id for key_id, item in wire_keys(emulator).items() if item["name"] == "emulator-bootstrap-owner")
    both = ("--cwd", str(web.project_dir), "--cwd", str(batch.project_dir))
    tokens = [
        emulator.token,
        orphan.token.reveal(),
        web.cli.outputs(show_secrets=True)["webapi_token"],
        batch.cli.outputs(show_secrets=True)["batchjob_token"],
    ]

    # Every stack of both projects: only the hand-made key is unmanaged; the running key is not offered.
    # The pipeline gate of each project passes: the other project's key and the hand-made one are not its own.
    for project in (web, batch):
        gate = project.ardent_keys("drift", "--stack", STACK)
        assert gate.returncode == 0, gate.stdout + gate.stderr
        assert gate.stdout.startswith(f"No drift: every key of {project.project}/{STACK} is active")
    report = web.ardent_keys("drift", "--unmanaged", *both, "--all-stacks", "--json")
    assert report.returncode == 1, report.stdout + report.stderr
    payload = json.loads(report.stdout)
    assert [(s["project"], s["stack"]) for s in payload["stacks"]] == [("ardent-web", "e2e"), ("ardent-batch", "e2e")]
    assert payload["credential_key_ids"] == [running] and payload["managed_keys"] == 2
    assert [(f["problem"], f["key_id"], f["org_id"]) for f in payload["findings"]] == [
        ("unmanaged", orphan.id, emulator.org_id)
    ]
    # Times as the service wrote them, and the check time at the Date header's whole seconds.
    assert payload["findings"][0]["expires_at"] == wire_keys(emulator)[orphan.id]["expires_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload["checked_at"])

    # One stack picked by org/project/stack among two projects: the other project's key is unmanaged there.
    picked = web.ardent_keys("drift", "--unmanaged", *both, "--stack", f"organization/ardent-batch/{STACK}", "--json")
    assert picked.returncode == 1, picked.stdout + picked.stderr
    picked_payload = json.loads(picked.stdout)
    assert [(s["project"], s["stack"]) for s in picked_payload["stacks"]] == [("ardent-batch", "e2e")]
    assert [f["key_id"] for f in picked_payload["findings"]] == sorted([web_key, orphan.id])
    ambiguous = web.ardent_keys("drift", *both, "--stack", STACK)
    assert ambiguous.returncode == 2 and "write org/project/stack" in ambiguous.stderr

    # From the web project alone, the batch project's key is refused: the backend's every stack is read.
    age_keys(emulator)
    alone = web.ardent_keys("revoke", "--yes", "--stack", STACK, batch_key)
    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "resource batchjob in stack ardent-batch/e2e" in alone.stdout and batch_key in web.active_keys()
    # A hand-made key: the plan, then nothing without --yes (no terminal here), revoked only with it.
    unconfirmed = web.ardent_keys("revoke", "--stack", STACK, orphan.id)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr and orphan.id in unconfirmed.stdout
    dry = web.ardent_keys("revoke", "--dry-run", "--stack", STACK, orphan.id)
    assert dry.returncode == 0 and "orphan-by-hand" in dry.stdout and orphan.id in web.active_keys()

    # The README's cleanup: with --all-stacks, only the orphan goes; everything else is refused, with reasons.
    revoke = web.ardent_keys(
        "revoke", "--yes", *both, "--all-stacks", batch_key, running, "key_doesnotexist", orphan.id, web_key
    )
    assert revoke.returncode == 1, revoke.stdout + revoke.stderr
    verdicts = [re.match(r"(refused|revoked) +([^\s:]+)", line) for line in revoke.stdout.splitlines()]
    lines = {match.group(2): match.string for match in verdicts if match}
    assert lines[batch_key].startswith("refused") and "resource batchjob in stack ardent-batch/e2e" in lines[batch_key]
    assert lines[web_key].startswith("refused") and "resource webapi in stack ardent-web/e2e" in lines[web_key]
    assert lines[running].startswith("refused") and "this command runs with" in lines[running]
    assert lines["key_doesnotexist"].startswith("refused") and "not an active key of org" in lines["key_doesnotexist"]
    assert lines[orphan.id].startswith("revoked")
    assert revoke.stdout.rstrip().endswith("1 revoked, 4 not revoked.")
    assert set(web.active_keys()) == {web_key, batch_key}
    assert web.token_works(emulator.token)
    assert not any(token in report.stdout + picked.stdout + revoke.stdout + revoke.stderr for token in tokens)

    clean = web.ardent_keys("drift", *both, "--all-stacks")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("No drift") and "ardent-web/e2e, ardent-batch/e2e" in clean.stdout


def test_configuration_mistakes_fail_preview_and_the_cli_saying_what_to_fix(stack: Stack) -> None:
    stack.write_keys([{"resource": "svc", "role": "Viewer"}])

    stack.cli.set_config("ardent:apiUrl", f"{stack.emulator.url}/v1")
    preview = stack.cli.run("preview", check=False)
    assert preview.returncode != 0 and "drop /v1" in preview.stdout + preview.stderr
    drift = stack.ardent_keys("drift", "--stack", STACK)
    assert drift.returncode == 2 and "drop /v1" in drift.stderr and stack.emulator.url in drift.stderr

    stack.cli.run("config", "rm", "ardent:apiUrl")
    stack.cli.set_config("ardent:apiURL", stack.emulator.url)
    hint = "`ardent:apiURL` is not a setting; did you mean `ardent:apiUrl`?"
    drift = stack.ardent_keys("drift", "--stack", STACK)
    assert drift.returncode == 2 and hint in drift.stderr
    revoke = stack.ardent_keys("revoke", "--yes", "--stack", STACK, "key_anything")
    assert revoke.returncode == 2 and hint in revoke.stderr and "nothing revoked" in revoke.stderr
    # Needs the provider to resolve settings from the whole stack config (not a lookup of known keys).
    preview = stack.cli.run("preview", check=False)
    assert preview.returncode != 0 and hint in preview.stdout + preview.stderr
    assert stack.active_keys() == {}


def test_drift_and_revoke_over_a_stack_whose_keys_live_in_two_orgs(stack: Stack) -> None:
    staging = httpx.post(f"{stack.emulator.url}/_emulator/orgs").json()
    stack.cli.run(
        "config", "set", "--secret", "--path", f"ardent:orgs.{staging['org_id']}.token", stdin=staging["token"]
    )
    stack.write_keys(
        [
            {"resource": "prod-ci", "role": "Viewer"},
            {"resource": "staging-ci", "role": "Viewer", "org_id": staging["org_id"]},
        ]
    )
    stack.up()
    outputs = stack.cli.outputs()
    with stack.owner() as owner:
        prod_orphan = owner.create_key(stack.emulator.org_id, name="orphan-prod", role="role_org_viewer")
    with ArdentClient(staging["token"], api_url=stack.emulator.url, retry=FAST_RETRY) as staging_owner:
        staging_orphan = staging_owner.create_key(staging["org_id"], name="orphan-staging", role="role_org_viewer")
    orgs = sorted([stack.emulator.org_id, staging["org_id"]])
    age_keys(stack.emulator)

    # Each org is read with its own credentials and compared with the keys the stack keeps there.
    report = stack.ardent_keys("drift", "--unmanaged", "--stack", STACK, "--json")
    assert report.returncode == 1, report.stdout + report.stderr
    payload = json.loads(report.stdout)
    assert payload["org_id"] == stack.emulator.org_id and payload["managed_keys"] == 2
    assert [org["org_id"] for org in payload["orgs"]] == orgs
    assert [(f["org_id"], f["problem"], f["key_id"]) for f in payload["findings"]] == sorted(
        [
            (stack.emulator.org_id, "unmanaged", prod_orphan.id),
            (staging["org_id"], "unmanaged", staging_orphan.id),
        ]
    )

    revoke = stack.ardent_keys("revoke", "--yes", "--stack", STACK, staging_orphan.id, prod_orphan.id)
    assert revoke.returncode == 0, revoke.stdout + revoke.stderr
    assert f"revoked  {staging_orphan.id} ('orphan-staging') in org {staging['org_id']}" in revoke.stdout
    assert f"revoked  {prod_orphan.id} ('orphan-prod') in org {stack.emulator.org_id}" in revoke.stdout
    with ArdentClient(staging["token"], api_url=stack.emulator.url, retry=FAST_RETRY) as staging_owner:
        staging_left = {key.id for key in staging_owner.list_keys(staging["org_id"])}
    assert staging_orphan.id not in staging_left and outputs["staging-ci_key_id"] in staging_left
    assert set(stack.active_keys()) == {outputs["prod-ci_key_id"]}

    clean = stack.ardent_keys("drift", "--stack", STACK)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    secrets = [stack.emulator.token, staging["token"], prod_orphan.token.reveal(), staging_orphan.token.reveal()]
    assert not any(secret in text for secret in secrets for text in (report.stdout, revoke.stdout, clean.stdout))
