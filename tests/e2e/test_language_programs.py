"""The TypeScript, Go and Java examples run end to end with the real CLI and the language hosts that
scripts/setup-pulumi builds: each creates, refreshes, imports, reaches a second org, refuses a bad input before
any request, and destroys, its token a secret throughout.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import NATIVE_KEY_TYPE

from .language_programs import LANGUAGES, Language, language_stack
from .test_native_programs import hand_made_key

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
BOOTSTRAP = "emulator-bootstrap-owner"


def plaintext_anywhere(root: Path, secrets: list[str]) -> list[str]:
    """Every file under ``root`` holding one of ``secrets`` in plain text."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}" for secret in secrets if secret.encode() in data]
    return found


def partner_key_names(emulator: EmulatorServer, org: dict[str, str]) -> list[str]:
    with ArdentClient(org["token"], api_url=emulator.url) as partner:
        return sorted(key.name for key in partner.list_keys(org["org_id"]) if key.name != BOOTSTRAP)


@pytest.mark.parametrize("language", list(LANGUAGES.values()), ids=list(LANGUAGES))
def test_the_example_creates_refreshes_imports_reaches_a_second_org_refuses_bad_input_and_destroys(
    tmp_path: Path, emulator: EmulatorServer, language: Language
) -> None:
    stack = language_stack(tmp_path, emulator, language)
    # A bad input first, while the program declares the seed's key alone: refused before any request is made.
    stack.cli.set_config("expiresInDays", "0")
    stack.reset_stats()
    refused = stack.cli.run("up", "--yes", check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "at least 1" in text, text[-3000:]
    assert stack.stats() == {} and stack.active_keys() == {}, "the bad input was refused before any request"
    stack.cli.run("config", "rm", "expiresInDays")

    partner = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    stack.cli.set_config("partnerOrgId", partner["org_id"])
    stack.cli.set_config("partnerToken", partner["token"], secret=True)
    stack.cli.set_config("partnerApiUrl", emulator.url)

    up = stack.cli.run("up", "--yes", "--skip-preview")
    shown = stack.cli.outputs()
    assert shown["productionTestToken"] == "[secret]" and shown["partnerKeyToken"] == "[secret]", shown
    outputs = stack.cli.outputs(show_secrets=True)
    token, partner_token = outputs["productionTestToken"], outputs["partnerKeyToken"]
    (key,) = stack.active_keys().values()
    assert key.name == "Production-Test" and key.id == outputs["productionTestKeyId"] and stack.token_works(token)
    assert outputs["partnerKeyOrgId"] == partner["org_id"], "the explicit provider's org, not the stack's"
    assert partner_key_names(emulator, partner) == ["partnerViewer"]
    recorded = {r["urn"].rsplit("::", 1)[1]: r for r in stack.cli.export()["deployment"]["resources"]}
    assert "ciphertext" in str(recorded["Production-Test"]["outputs"]["token"])
    assert "ciphertext" in str(recorded["partnerViewer"]["outputs"]["token"])
    assert "ciphertext" in str(recorded["partner"]["inputs"]["token"]), "the explicit provider's token is encrypted"
    assert token not in up.stdout + up.stderr and partner_token not in up.stdout + up.stderr

    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")

    existing = hand_made_key(emulator)
    code = tmp_path / "imported-code"
    generate = ["--out", str(code)] if language.generates_import_code else ["--generate-code=false"]
    imported = stack.cli.run("import", NATIVE_KEY_TYPE, "handMade", existing, "--yes", "--protect=false", *generate)
    assert "imported without its token" in imported.stdout + imported.stderr
    if language.generates_import_code:
        assert existing in code.read_text() and "hand-made" in code.read_text()
    stack.cli.set_config("adoptKeyId", existing)
    stack.reset_stats()
    stack.cli.run("up", "--yes", "--skip-preview")
    assert stack.stats().get(CREATE, 0) == 0 and existing in stack.active_keys()
    stack.cli.run("preview", "--expect-no-changes")

    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {} and partner_key_names(emulator, partner) == []
    assert stack.state_text() and plaintext_anywhere(tmp_path, [token, partner_token]) == []
