"""The native ``ardent`` provider from programs: YAML end to end, the generated Python SDK, explicit providers,
``pulumi import``, and a stack moved from ``ArdentApiKey`` to ``ardent.ApiKey``.

The scenarios shared with ``ArdentApiKey`` (replacement, faults, leaks, options) run against both resource types
through the ``stack`` fixture; these are the ones only the native provider has.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import NATIVE_KEY_TYPE
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, ROOT, STACK, Stack, destroy_and_check, make_stack, require_cli

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "POST /v1/orgs/{org_id}/api-keys/{key_id}/revoke"


def yaml_stack(tmp_path: Path, emulator: EmulatorServer) -> Stack:
    """A copy of examples/yaml wired to the emulator."""
    require_cli()
    project_dir = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "yaml", project_dir)
    cli = PulumiCLI(project_dir, tmp_path / "pulumi-state", PASSPHRASE)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    return Stack(cli, emulator, project_dir, "ardent-yaml", "native")


def hand_made_key(emulator: EmulatorServer, name: str = "hand-made") -> str:
    """A key made outside Pulumi (role Member, one scope, 60 days), as a team's console would make it."""
    answer = httpx.post(
        f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys",
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"name": name, "role_id": "role_org_member", "scopes": ["projects.read"], "expires_days": 60},
    )
    answer.raise_for_status()
    key_id: str = answer.json()["api_key_id"]
    return key_id


def test_the_yaml_example_declares_the_seed_key_with_its_token_a_secret(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = yaml_stack(tmp_path, emulator)
    stack.cli.run("up", "--yes")
    outputs = stack.cli.outputs()
    assert outputs["productionTestToken"] == "[secret]"
    token = stack.cli.outputs(show_secrets=True)["productionTestToken"]
    (key,) = stack.active_keys().values()
    assert key.name == "Production-Test" and key.id == outputs["productionTestKeyId"] and stack.token_works(token)
    assert token not in stack.state_text()
    recorded = next(r for r in stack.cli.export()["deployment"]["resources"] if r["type"] == NATIVE_KEY_TYPE)
    assert recorded["outputs"]["role"] == "role_org_admin" and "ciphertext" in recorded["outputs"]["token"]

    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}


def test_pulumi_import_in_yaml_writes_code_that_previews_without_changes_then_rotate_publishes_a_token(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = yaml_stack(tmp_path, emulator)
    stack.cli.run("up", "--yes")
    existing = hand_made_key(emulator)
    generated = tmp_path / "imported.yaml"
    result = stack.cli.run(
        "import", NATIVE_KEY_TYPE, "handMade", existing, "--yes", "--protect=false", "--out", str(generated)
    )
    assert "imported without its token" in result.stdout + result.stderr
    code = yaml.safe_load(generated.read_text())["resources"]["handMade"]
    assert code == {
        "type": "ardent:ApiKey",
        "properties": {
            "adoptKeyId": existing,
            "expiresInDays": 60,
            "name": "hand-made",
            "onMissingToken": "keep",
            "scopes": ["projects.read"],
        },
    }
    program = yaml.safe_load((stack.project_dir / "Pulumi.yaml").read_text())
    program["resources"]["handMade"] = code
    program["outputs"]["handMadeToken"] = "${handMade.token}"
    (stack.project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    stack.reset_stats()
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("up", "--yes")
    assert existing in stack.active_keys() and stack.stats().get(CREATE, 0) == 0

    code["properties"]["onMissingToken"] = "rotate"
    code["properties"]["role"] = "Member"
    (stack.project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    stack.cli.run("up", "--yes")
    token = stack.cli.outputs(show_secrets=True)["handMadeToken"]
    replacement = stack.resource_outputs("handMade")
    active = stack.active_keys()
    assert existing not in active and replacement["key_id"] in active
    # The new key has the old one's scope only (projects.read), so its token is checked by its prefix.
    assert token.startswith(active[replacement["key_id"]].key_prefix)
    destroy_and_check(stack)


SDK_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    config = pulumi.Config()
    seed = ardent.ApiKey("seed", name="Production-Test", role="Admin", expires_in_days=30)
    pulumi.export("seed_token", seed.token)
    pulumi.export("seed_key_id", seed.key_id)
    if config.get("otherOrg"):
        # orgs given in plain text on purpose: the provider keeps every token of its settings secret anyway.
        plain_token = pulumi.Output.unsecret(config.require_secret("otherToken"))
        partner = ardent.Provider(
            "partner", token=config.require_secret("otherToken"), org_id=config.require("otherOrg"),
            api_url=config.require("apiUrl"), orgs={config.require("otherOrg"): {"token": plain_token}},
        )
        far = ardent.ApiKey("far", role="Viewer", opts=pulumi.ResourceOptions(provider=partner))
        pulumi.export("far_org", far.org_id)
        pulumi.export("far_token", far.token)
    if config.get("imported"):
        ardent.ApiKey("imported", name="hand-made", role="Member", scopes=["projects.read"], expires_in_days=60,
                      adopt_key_id=config.require("imported"), on_missing_token="keep")
    """
)


def test_the_python_sdk_creates_refreshes_imports_and_destroys_the_seed_key_and_reaches_another_org(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, SDK_PROGRAM, project="ardent-sdk")
    other = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    stack.cli.set_config("otherOrg", other["org_id"])
    stack.cli.set_config("otherToken", other["token"], secret=True)
    stack.cli.set_config("apiUrl", emulator.url)
    stack.cli.run("up", "--yes")
    outputs = stack.cli.outputs(show_secrets=True)
    assert stack.cli.outputs()["seed_token"] == "[secret]" and stack.token_works(outputs["seed_token"])
    assert outputs["far_org"] == other["org_id"], "the explicit provider's org, not the stack's"
    assert outputs["far_token"] not in stack.state_text() and outputs["seed_token"] not in stack.state_text()
    provider = next(r for r in stack.cli.export()["deployment"]["resources"] if r["urn"].endswith("::partner"))
    assert "ciphertext" in json.dumps(provider["inputs"]["token"]), "the explicit provider's token is encrypted"
    assert "ciphertext" in json.dumps(provider["inputs"]["orgs"]) and other["token"] not in stack.state_text()

    existing = hand_made_key(emulator)
    imported = stack.cli.run("import", NATIVE_KEY_TYPE, "imported", existing, "--yes", "--protect=false")
    assert 'imported = ardent.ApiKey("imported"' in imported.stdout, "the code to paste, printed"
    stack.cli.set_config("imported", existing)
    # The program declares the role Ardent does not list: the first up records it, on the same key.
    preview = stack.cli.run("preview", "--diff")
    assert 'role: "role_org_member"' in preview.stdout and "~ 1 to update" in preview.stdout
    stack.reset_stats()
    stack.cli.run("up", "--yes")
    assert stack.stats().get(CREATE, 0) == 0 and existing in stack.active_keys()
    assert stack.resource_outputs("imported")["role"] == "role_org_member"
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}
    with ArdentClient(other["token"], api_url=emulator.url) as partner:
        assert [key.name for key in partner.list_keys(other["org_id"])] == ["emulator-bootstrap-owner"]


SEED_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    seed = ardent.ApiKey("seed", name="Production-Test", role="Admin", expires_in_days=30)
    """
)


def test_pulumi_import_in_python_writes_code_that_previews_without_changes(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, SEED_PROGRAM, project="ardent-import")
    stack.cli.run("up", "--yes")
    existing = hand_made_key(emulator)
    generated = tmp_path / "imported.py"
    # Protected, as `pulumi import` makes it by default: a half-import would leave a key the next preview
    # plans to delete and cannot.
    result = stack.cli.run("import", NATIVE_KEY_TYPE, "handMade", existing, "--yes", "--out", str(generated))
    assert "imported without its token" in result.stdout + result.stderr
    code = generated.read_text()
    assert "import pulumi_ardent as ardent" in code
    assert f'adopt_key_id="{existing}"' in code and 'on_missing_token="keep"' in code
    assert "expires_in_days=60" in code and 'scopes=["projects.read"]' in code
    assert "protect=True" in code
    (imported,) = [r for r in stack.cli.export()["deployment"]["resources"] if r.get("id") == existing]
    assert imported["protect"] is True

    main = stack.project_dir / "__main__.py"
    main.write_text(
        main.read_text() + "\n" + code.replace("import pulumi\n", "").replace("import pulumi_ardent as ardent\n", "")
    )
    stack.reset_stats()
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("up", "--yes", "--expect-no-changes")
    assert existing in stack.active_keys() and stack.stats().get(CREATE, 0) == 0
    # As a user would before destroying: drop the protection from the program, then up.
    main.write_text(main.read_text().replace("protect=True", "protect=False"))
    stack.cli.run("up", "--yes")
    destroy_and_check(stack)


def test_the_cli_generates_python_sdks_and_converts_programs_to_python(tmp_path: Path) -> None:
    require_cli()
    schema = tmp_path / "schema.json"
    schema.write_text(
        subprocess.run(
            [sys.executable, "-m", "ardent_provider.native.schema"], capture_output=True, text=True, check=True
        ).stdout
    )
    pcl = tmp_path / "pcl"
    pcl.mkdir()
    (pcl / "main.pp").write_text(
        'resource productionTest "ardent:index:ApiKey" {\n    name = "Production-Test"\n    role = "Admin"\n}\n'
    )
    cli = PulumiCLI(pcl, tmp_path / "pulumi-state", PASSPHRASE)

    cli.run("package", "gen-sdk", str(schema), "--language", "python", "--out", str(tmp_path / "sdk"))
    generated = (tmp_path / "sdk" / "python" / "pulumi_ardent" / "api_key.py").read_text().splitlines()
    checked_in = (ROOT / "sdk" / "python" / "pulumi_ardent" / "api_key.py").read_text().splitlines()
    # The same generator as scripts/gen-sdk; only the header's tool name differs.
    assert "pulumi-language-python" in generated[1] and generated[2:] == checked_in[2:]

    cli.run("convert", "--from", "pcl", "--language", "python", "--out", str(tmp_path / "py"), "--generate-only")
    assert 'production_test = ardent.ApiKey("productionTest"' in (tmp_path / "py" / "__main__.py").read_text()
    assert yaml.safe_load((tmp_path / "py" / "Pulumi.yaml").read_text())["runtime"] == "python"


DYNAMIC_PROGRAM = textwrap.dedent(
    """
    import pulumi
    from ardent_provider import ArdentApiKey

    key = ArdentApiKey("web", name="web-deployer", role="Member", expires_in_days=30, keep_previous_for_days=2)
    pulumi.export("token", key.token)
    pulumi.export("key_id", key.key_id)
    """
)
NATIVE_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="pulumi-python:dynamic/ardent:ApiKey")])
    key = ardent.ApiKey("web", name="web-deployer", role="Member", expires_in_days=30, keep_previous_for_days=2,
                        opts=moved)
    pulumi.export("token", key.token)
    pulumi.export("key_id", key.key_id)
    """
)


def test_a_stack_moves_from_ardent_api_key_to_the_native_type_keeping_every_key_and_token(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, DYNAMIC_PROGRAM, project="ardent-move")
    stack.cli.run("up", "--yes")
    before = stack.cli.outputs(show_secrets=True)
    (stack.project_dir / "__main__.py").write_text(NATIVE_PROGRAM)
    stack.reset_stats()
    stack.cli.run("up", "--yes")
    after = stack.cli.outputs(show_secrets=True)
    assert after == before, "the same key and the same token"
    stats = stack.stats()
    assert stats.get(CREATE, 0) == 0 and stats.get(REVOKE, 0) == 0
    (moved,) = [r for r in stack.cli.export()["deployment"]["resources"] if r.get("id") == before["key_id"]]
    assert moved["type"] == NATIVE_KEY_TYPE and "keyId" in moved["outputs"] and "__provider" not in moved["outputs"]
    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")
    assert set(stack.active_keys()) == {before["key_id"]} and stack.token_works(after["token"])
    destroy_and_check(stack)


def test_a_yaml_programs_bad_input_and_policy_violation_name_its_own_properties_and_type(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = yaml_stack(tmp_path, emulator)
    program = yaml.safe_load((stack.project_dir / "Pulumi.yaml").read_text())
    resources = program["resources"]
    resources["shortLived"] = {"type": "ardent:ApiKey", "properties": {"role": "Viewer", "expiresInDays": 0}}
    (stack.project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    stack.reset_stats()

    refused = stack.cli.run("preview", check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "expiresInDays" in text, text[-3000:]
    assert "expires_in_days" not in text and "Traceback" not in text, text[-3000:]
    assert stack.stats().get("POST /v1/orgs/{org_id}/api-keys", 0) == 0 and stack.active_keys() == {}

    # The policy pack reads the same names: a key that never expires, in the program's words.
    resources["shortLived"]["properties"] = {"role": "Viewer"}
    (stack.project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    pack = stack.ardent_keys("policy-pack").stdout.strip()
    checked = stack.cli.run("preview", "--policy-pack", pack, check=False)
    text = checked.stdout + checked.stderr
    assert "ardent:index:ApiKey 'shortLived' never expires" in text, text[-4000:]
    assert "Set expiresInDays to 365 or less" in text and "ArdentApiKey" not in text, text[-4000:]
    assert "expires_in_days" not in text and "rotate_before_days" not in text, text[-4000:]
    assert "ardent:index:ApiKey 'productionTest' has role Admin but no rotateBeforeDays" in text, text[-4000:]
