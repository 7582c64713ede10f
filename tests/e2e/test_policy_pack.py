"""The policy pack with the real CLI: `pulumi preview --policy-pack "$(ardent-keys policy-pack)"`.

Each preview declares many keys at once, so one run shows every policy's verdict. A verdict is read from the
CLI's own report (`- [advisory]  <policy>  (<type>: <resource>)`), and every output is searched for every token
involved: the emulator's owner token (the stack's `ardent:token`, which the pack sees in plaintext on the
provider resource) and the `adopt_token` of an adopted key (a secret input, also seen in plaintext).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ardent_provider.emulator import EmulatorServer

from ..release import build_wheel
from .conftest import KINDS, Stack, make_stack, project_yaml
from .test_own_project import UserCLI

pytestmark = pytest.mark.e2e

# Keys from keys.json; an input named in a key's "later" list comes from `seed`, so it is unknown at preview.
POLICY_PROGRAM = textwrap.dedent(
    """
    import json
    from pathlib import Path

    from ardent_provider import ArdentApiKey

    seed = ArdentApiKey("seed", role="Viewer", scopes=["projects.read"], expires_in_days=30)
    for spec in json.loads((Path(__file__).parent / "keys.json").read_text()):
        resource = spec.pop("resource")
        for name in spec.pop("later", []):
            spec[name] = seed.key_id.apply(lambda _id, value=spec[name]: value)
        ArdentApiKey(resource, **spec)
    """
)
VERDICT = re.compile(
    r"\[(advisory|mandatory)\]\s+(ardent-[a-z-]+)\s+"
    r"\((?:pulumi-python:dynamic/ardent:ApiKey|ardent:index:ApiKey): ([^)]+)\)"
)
SCOPES = ["projects.read"]


def verdicts(output: str) -> set[tuple[str, str, str]]:
    """``(level, policy, resource)`` for each violation the CLI reported."""
    return set(VERDICT.findall(output))


def policy_stack(tmp_path: Path, emulator: EmulatorServer, kind: str = "dynamic") -> tuple[Stack, str]:
    """A stack of the policy program, and the launcher that `ardent-keys policy-pack` printed for it."""
    stack = make_stack(tmp_path, emulator, POLICY_PROGRAM, project="ardent-policies", kind=kind)
    printed = stack.ardent_keys("policy-pack")
    assert printed.returncode == 0, printed.stderr
    pack = printed.stdout.strip()
    assert Path(pack).is_file() and Path(pack).stat().st_mode & 0o111, pack
    return stack, pack


def preview(stack: Stack, pack: str, config: dict[str, Any] | None = None) -> tuple[int, str]:
    args = ["preview", "--policy-pack", pack]
    if config is not None:
        path = stack.project_dir / f"policy-config-{len(list(stack.project_dir.glob('policy-config-*')))}.json"
        path.write_text(json.dumps(config))
        args += ["--policy-pack-config", str(path)]
    result = stack.cli.run(*args, check=False)
    return result.returncode, result.stdout + result.stderr


def assert_no_token(output: str, *tokens: str) -> None:
    for token in tokens:
        assert token not in output
        assert token[len("sk-ard_test_") :][:12] not in output


@pytest.mark.parametrize("kind", KINDS)
def test_a_compliant_program_passes_every_policy_and_unknown_inputs_are_judged_at_up(
    tmp_path: Path, emulator: EmulatorServer, kind: str
) -> None:
    stack, pack = policy_stack(tmp_path, emulator, kind)
    with stack.owner() as owner:
        handmade = owner.create_key(
            emulator.org_id, name="handmade-a", role="role_org_member", scopes=SCOPES, expires_days=90
        )
    token = handmade.token.reveal()
    stack.write_keys(
        [
            {"resource": "billing-reader", "role": "Member", "scopes": SCOPES, "expires_in_days": 90},
            {"resource": "ops-admin", "role": "Admin", "expires_in_days": 90, "rotate_before_days": 14},
            {
                "resource": "adopted",
                "name": "handmade-a",
                "role": "Member",
                "scopes": SCOPES,
                "expires_in_days": 90,
                "adopt_key_id": handmade.id,
                "adopt_token": token,
            },
            # Unknown at preview, each would break a policy once known.
            {
                "resource": "late-owner",
                "role": "Owner",
                "expires_in_days": 30,
                "rotate_before_days": 7,
                "later": ["role"],
            },
            {
                "resource": "late-expiry",
                "role": "Viewer",
                "scopes": SCOPES,
                "expires_in_days": 3000,
                "later": ["expires_in_days"],
            },
            {"resource": "late-name", "name": "Deploy Bot", "role": "Viewer", "expires_in_days": 30, "later": ["name"]},
            {
                "resource": "late-scopes",
                "name": "ci-late",
                "role": "Viewer",
                "scopes": [],
                "expires_in_days": 30,
                "later": ["scopes"],
            },
        ]
    )

    # Every policy but the sink's: these keys publish their tokens, as most stacks do (tests/e2e/test_secret_sink.py
    # has keys with sinks).
    code, output = preview(stack, pack, {"all": "mandatory", "ardent-sink-required": "disabled"})
    assert code == 0, output[-4000:]
    assert "ardent-api-keys@v" in output, "the pack was not loaded"
    assert verdicts(output) == set()
    assert "can't run policy" not in output
    assert_no_token(output, emulator.token, token)

    # At up the role is known: the owner key is refused before it exists, and the update stops there.
    result = stack.cli.run("up", "--yes", "--skip-preview", "--policy-pack", pack, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert ("mandatory", "ardent-no-owner-keys", "late-owner") in verdicts(output), output[-4000:]
    label = "ArdentApiKey" if kind == "dynamic" else "ardent:index:ApiKey"
    assert f"{label} 'late-owner' has role Owner" in output
    assert "late-owner" not in {key.name for key in stack.active_keys().values()}, "the owner key was created"
    assert_no_token(output, emulator.token, token)


@pytest.mark.parametrize("kind", KINDS)
def test_each_policy_fails_at_its_level_and_the_config_changes_the_verdict(
    tmp_path: Path, emulator: EmulatorServer, kind: str
) -> None:
    stack, pack = policy_stack(tmp_path, emulator, kind)
    with stack.owner() as owner:
        handmade = owner.create_key(emulator.org_id, name="CI handmade", role="role_org_owner")
    token = handmade.token.reveal()
    stack.write_keys(
        [
            {
                "resource": "owner-key",
                "role": "Owner",
                "scopes": SCOPES,
                "expires_in_days": 30,
                "rotate_before_days": 7,
            },
            {"resource": "forever", "role": "Viewer", "scopes": SCOPES},
            {"resource": "long-lived", "role": "Viewer", "scopes": SCOPES, "expires_in_days": 90},
            {"resource": "admin-norotate", "role": "Admin", "scopes": SCOPES, "expires_in_days": 30},
            {"resource": "ci-deployer", "role": "Member", "expires_in_days": 30},
            {
                "resource": "badly-named",
                "name": "Billing Reader",
                "role": "Viewer",
                "scopes": SCOPES,
                "expires_in_days": 30,
            },
            # Breaks all five policies, with its token in plaintext before every one of them.
            {
                "resource": "adopted",
                "name": "CI handmade",
                "role": "Owner",
                "adopt_key_id": handmade.id,
                "adopt_token": token,
            },
        ]
    )
    outputs: list[str] = []

    # Defaults: owner keys mandatory, expiry and rotation advisory, the two pattern policies disabled.
    code, output = preview(stack, pack)
    outputs.append(output)
    assert code != 0, output[-4000:]
    assert verdicts(output) == {
        ("mandatory", "ardent-no-owner-keys", "owner-key"),
        ("mandatory", "ardent-no-owner-keys", "adopted"),
        ("advisory", "ardent-expiry-required", "forever"),
        ("advisory", "ardent-expiry-required", "adopted"),
        ("advisory", "ardent-admin-keys-rotate", "admin-norotate"),
        ("advisory", "ardent-admin-keys-rotate", "adopted"),
    }, output[-4000:]
    # The program reads the type it declared the key with and, being Python, its SDK's snake_case names.
    label = "ArdentApiKey" if kind == "dynamic" else "ardent:index:ApiKey"
    assert f"{label} 'forever' never expires" in output
    assert "Set expires_in_days to 365 or less" in output and "expiresInDays" not in output

    # Everything advisory, a shorter max_days and both pattern policies on: warnings only, exit 0.
    code, output = preview(
        stack,
        pack,
        {
            "ardent-no-owner-keys": "advisory",
            "ardent-expiry-required": {"max_days": 60},
            "ardent-scoped-automation-keys": "advisory",
            "ardent-name-pattern": {"enforcementLevel": "advisory", "pattern": "[a-z][a-z0-9-]*"},
        },
    )
    outputs.append(output)
    assert code == 0, output[-4000:]
    assert verdicts(output) == {
        ("advisory", "ardent-no-owner-keys", "owner-key"),
        ("advisory", "ardent-no-owner-keys", "adopted"),
        ("advisory", "ardent-expiry-required", "forever"),
        ("advisory", "ardent-expiry-required", "long-lived"),
        ("advisory", "ardent-expiry-required", "adopted"),
        ("advisory", "ardent-admin-keys-rotate", "admin-norotate"),
        ("advisory", "ardent-admin-keys-rotate", "adopted"),
        ("advisory", "ardent-scoped-automation-keys", "ci-deployer"),
        ("advisory", "ardent-scoped-automation-keys", "adopted"),
        ("advisory", "ardent-name-pattern", "badly-named"),
        ("advisory", "ardent-name-pattern", "adopted"),
    }, output[-4000:]
    assert "later than the 60 days" in output

    # Disable some, raise others, and a narrower automation pattern (case-sensitive: not "CI handmade").
    code, output = preview(
        stack,
        pack,
        {
            "ardent-no-owner-keys": "disabled",
            "ardent-expiry-required": "disabled",
            "ardent-admin-keys-rotate": "mandatory",
            "ardent-scoped-automation-keys": {"enforcementLevel": "mandatory", "pattern": "^ci-"},
        },
    )
    outputs.append(output)
    assert code != 0, output[-4000:]
    assert verdicts(output) == {
        ("mandatory", "ardent-admin-keys-rotate", "admin-norotate"),
        ("mandatory", "ardent-admin-keys-rotate", "adopted"),
        ("mandatory", "ardent-scoped-automation-keys", "ci-deployer"),
    }, output[-4000:]

    # An option the schema refuses stops the run before any key is judged.
    code, output = preview(stack, pack, {"ardent-expiry-required": {"max_days": 0}})
    outputs.append(output)
    assert code != 0
    assert "max_days" in output
    assert verdicts(output) == set()

    for output in outputs:
        assert_no_token(output, emulator.token, token)
    assert stack.active_keys().keys() == {handmade.id}, "a preview created or revoked a key"


def test_a_user_project_serves_the_pack_from_its_own_virtualenv(tmp_path: Path, emulator: EmulatorServer) -> None:
    """`pip install 'ardent-provider[policy]'` into the project's venv; its ardent-keys prints a working pack."""
    wheel = build_wheel(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    venv = project / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[policy]"],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (project / "Pulumi.yaml").write_text(project_yaml("ardent-user-policies", "venv"))
    (project / "__main__.py").write_text(
        'from ardent_provider import ArdentApiKey\n\nArdentApiKey("root-key", role="Owner", expires_in_days=30)\n'
    )
    cli = UserCLI(project, tmp_path / "pulumi-state", "user-passphrase")
    cli.run("stack", "init", "dev")
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)

    printed = subprocess.run(
        [venv / "bin" / "ardent-keys", "policy-pack"], env=cli.env(), capture_output=True, text=True, check=False
    )
    assert printed.returncode == 0, printed.stderr
    pack = Path(printed.stdout.strip())
    assert pack == venv / "share" / "ardent-provider" / "policy-pack" / "ardent-policy-pack"
    assert f"python={venv / 'bin' / 'python'}" in pack.read_text()
    served = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert f"pack={served / 'ardent_provider' / 'policy' / 'pack'}" in pack.read_text(), "the pack is not the wheel's"

    result = cli.run("preview", "--policy-pack", str(pack), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert verdicts(output) == {
        ("mandatory", "ardent-no-owner-keys", "root-key"),
        ("advisory", "ardent-admin-keys-rotate", "root-key"),
    }, output[-4000:]
    assert "ardent-api-keys@v0.1.0" in output
    assert_no_token(output, emulator.token)


def test_a_policy_name_or_option_the_pack_lacks_fails_the_preview_with_the_nearest_name(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack, pack = policy_stack(tmp_path, emulator)
    stack.write_keys([{"resource": "forever", "role": "Viewer", "scopes": SCOPES}])

    misspelt_policy = preview(stack, pack, {"ardent-no-owner-key": "disabled"})
    misspelt_option = preview(stack, pack, {"ardent-expiry-required": {"max_day": 30}})
    bad_value = preview(stack, pack, {"ardent-expiry-required": {"max_days": 0}})
    fine = preview(stack, pack, {"ardent-no-owner-keys": "disabled", "ardent-expiry-required": {"max_days": 30}})

    code, output = misspelt_policy
    assert code != 0 and "did you mean `ardent-no-owner-keys`?" in output, output[-3000:]
    code, output = misspelt_option
    assert code != 0 and "`max_day` is not an option of ardent-expiry-required" in output, output[-3000:]
    assert "did you mean `max_days`?" in output
    code, output = bad_value
    assert code != 0 and "max_days" in output, output[-3000:]
    code, output = fine
    assert code == 0, output[-3000:]
    assert ("advisory", "ardent-expiry-required", "forever") in verdicts(output)
