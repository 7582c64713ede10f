"""Explicit ``ardent`` providers through the real CLI: ``ardent-keys`` reads each org with the provider that works
there, never revokes the key a provider runs with, and reports an org it cannot read as an error row.

The scenario runs once with a YAML program and once with a Python program on the generated SDK; each declares an
explicit provider for a second org whose token is given once, as secret config of the program.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.models import ApiKey
from ardent_provider.testing.pulumi_cli import PulumiCLI

from ..conftest import FAST_RETRY
from .conftest import PASSPHRASE, STACK, Stack, project_yaml, require_cli

pytestmark = pytest.mark.e2e

YAML_PROGRAM = textwrap.dedent(
    """
    name: {project}
    runtime: yaml
    config:
      partnerToken:
        type: string
        secret: true
      partnerOrg:
        type: string
      partnerApiUrl:
        type: string
    resources:
      partner:
        type: pulumi:providers:ardent
        properties:
          token: ${{partnerToken}}
          orgId: ${{partnerOrg}}
          apiUrl: ${{partnerApiUrl}}
      home:
        type: ardent:ApiKey
        properties:
          role: Member
      far:
        type: ardent:ApiKey
        properties:
          role: Viewer
        options:
          provider: ${{partner}}
    outputs:
      homeKeyId: ${{home.keyId}}
      farKeyId: ${{far.keyId}}
    """
)
PYTHON_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    config = pulumi.Config()
    partner = ardent.Provider(
        "partner",
        token=config.require_secret("partnerToken"),
        org_id=config.require("partnerOrg"),
        api_url=config.require("partnerApiUrl"),
    )
    home = ardent.ApiKey("home", role="Member")
    far = ardent.ApiKey("far", role="Viewer", opts=pulumi.ResourceOptions(provider=partner))
    pulumi.export("homeKeyId", home.key_id)
    pulumi.export("farKeyId", far.key_id)
    """
)
# A team's project elsewhere on the same backend, with a key in the partner org under its own ardent:orgs token.
BYSTANDER_PROGRAM = textwrap.dedent(
    """
    name: ardent-bystander
    runtime: yaml
    config:
      partnerOrg:
        type: string
    resources:
      audit:
        type: ardent:ApiKey
        properties:
          role: Viewer
          orgId: ${partnerOrg}
    """
)
TWO_DAYS = 2 * 86400


def new_project(root: Path, emulator: EmulatorServer, name: str, files: dict[str, str]) -> Stack:
    """A project in ``root/name`` on the backend shared by every project of the test, its stack selected."""
    require_cli()
    directory = root / name
    directory.mkdir()
    for file_name, text in files.items():
        (directory / file_name).write_text(text)
    cli = PulumiCLI(directory, root / "pulumi-state", PASSPHRASE)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    return Stack(cli, emulator, directory, name, "native")


def program_files(language: str, project: str) -> dict[str, str]:
    if language == "yaml":
        return {"Pulumi.yaml": YAML_PROGRAM.format(project=project)}
    return {"Pulumi.yaml": project_yaml(project, Path(sys.prefix)), "__main__.py": PYTHON_PROGRAM}


def listed(org: dict[str, str], url: str) -> dict[str, ApiKey]:
    with ArdentClient(org["token"], api_url=url, retry=FAST_RETRY) as client:
        return {key.id: key for key in client.list_keys(org["org_id"])}


def revoke_out_of_band(org: dict[str, str], url: str, key_id: str) -> None:
    """Revoke a key as a person would in Ardent's console: with the org owner's token, outside Pulumi."""
    with ArdentClient(org["token"], api_url=url, retry=FAST_RETRY) as client:
        client.revoke_key(org["org_id"], key_id)


@pytest.mark.parametrize("language", ["yaml", "python"])
def test_an_explicit_providers_org_is_read_with_its_token_its_key_is_never_revoked_and_an_unreadable_org_is_a_row(
    tmp_path: Path, emulator: EmulatorServer, language: str
) -> None:
    partner_org = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    with ArdentClient(partner_org["token"], api_url=emulator.url, retry=FAST_RETRY) as owner:
        admin = owner.create_key(partner_org["org_id"], name="partner-admin", role="role_org_admin")
    project = f"ardent-partner-{language}"
    stack = new_project(tmp_path, emulator, project, program_files(language, project))
    # The partner org's token is given once: as the explicit provider's secret config, nowhere in ardent:orgs.
    stack.cli.set_config("partnerToken", admin.token.reveal(), secret=True)
    stack.cli.set_config("partnerOrg", partner_org["org_id"])
    stack.cli.set_config("partnerApiUrl", emulator.url)
    stack.cli.run("up", "--yes", "--skip-preview")
    outputs = stack.cli.outputs()
    far, home = outputs["farKeyId"], outputs["homeKeyId"]
    assert far in listed(partner_org, emulator.url) and home in stack.active_keys()
    assert admin.token.reveal() not in stack.state_text()

    clean = stack.ardent_keys("drift", "--all-stacks")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No drift" in clean.stdout
    assert "--show-secrets" in stack.ardent_keys("drift", "--help").stdout, "the help says what is decrypted"

    # Idle for two days: neither recent use nor a key's young age protects the provider's key any more.
    httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": TWO_DAYS}).raise_for_status()
    refused = stack.ardent_keys("revoke", "--yes", "--all-stacks", admin.id)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    verdict = next(line for line in refused.stdout.splitlines() if line.startswith(f"refused  {admin.id}"))
    assert f"{project}/{STACK}" in verdict and "provider resource partner" in verdict
    assert admin.id in listed(partner_org, emulator.url)

    # Another project of the backend that knows nothing of the provider still never revokes its key, and does
    # not report it as unmanaged; the partner key the first stack manages is unmanaged from there.
    bystander = new_project(tmp_path, emulator, "ardent-bystander", {"Pulumi.yaml": BYSTANDER_PROGRAM})
    bystander.cli.set_config("partnerOrg", partner_org["org_id"])
    bystander.cli.run(
        "config", "set", "--secret", "--path", f"ardent:orgs.{partner_org['org_id']}.token", partner_org["token"]
    )
    bystander.cli.run("up", "--yes", "--skip-preview")
    httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": TWO_DAYS}).raise_for_status()
    elsewhere = bystander.ardent_keys("revoke", "--yes", "--all-stacks", admin.id)
    assert elsewhere.returncode == 1, elsewhere.stdout + elsewhere.stderr
    verdict = next(line for line in elsewhere.stdout.splitlines() if line.startswith(f"refused  {admin.id}"))
    assert f"{project}/{STACK} (provider resource partner)" in verdict
    assert admin.id in listed(partner_org, emulator.url)
    report = bystander.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    assert report.returncode == 1, report.stdout + report.stderr
    unmanaged = {f["key_id"] for f in json.loads(report.stdout)["findings"] if f["problem"] == "unmanaged"}
    assert admin.id not in unmanaged and far in unmanaged

    # A key of the partner org revoked outside Pulumi is drift, named.
    revoke_out_of_band(partner_org, emulator.url, far)
    drifted = stack.ardent_keys("drift", "--all-stacks")
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert any("missing" in line and far in line for line in drifted.stdout.splitlines())

    # The provider's own token revoked: its org is an error row naming stack, provider and fix; the stack's
    # default org is still checked (its key, revoked too, is reported).
    revoke_out_of_band(partner_org, emulator.url, admin.id)
    with stack.owner() as client:
        client.revoke_key(emulator.org_id, home)
    broken = stack.ardent_keys("drift", "--all-stacks")
    text = broken.stdout + broken.stderr
    assert broken.returncode == 2, text
    row = next(line for line in broken.stdout.splitlines() if line.startswith(partner_org["org_id"]))
    assert " error " in row and f"{project}/{STACK}" in row and "partner" in row and "HTTP 401" in row
    assert "`token` input of provider resource partner" in row and "`pulumi up` there" in row
    assert any("missing" in line and home in line for line in broken.stdout.splitlines())
    for token in (admin.token.reveal(), partner_org["token"], emulator.token):
        assert token not in text
