"""``ardent-keys`` end to end in-process: ``main([...])`` against a real emulator and a fake ``pulumi``.

The fake ``pulumi`` is a small script first on PATH. Like the real CLI on a file backend it finds the project
by the ``Pulumi.yaml`` in its working directory, the stacks under ``$PULUMI_BACKEND_URL/.pulumi/stacks/<project>``
and their config in ``Pulumi.<stack>.yaml`` beside the project (secrets encrypted with
``PULUMI_CONFIG_PASSPHRASE``), and it fails as the real one does: ``error: ...`` on stderr, exit code 255.
It answers only the read-only commands ``ardent-keys`` needs and refuses anything else. The Ardent side is the
real emulator; nothing inside ``ardent_provider.cli`` is replaced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.cli import main
from ardent_provider.emulator import EmulatorServer

from ..conftest import FAST_RETRY

PASSPHRASE = "in-process-passphrase"
DAY = 86400
SECRET_SIG = "4dabf18193072939515e22adb298388d"
KEY_TYPE = "pulumi-python:dynamic/ardent:ApiKey"
REVOKE_ROUTE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
REPORT_FIELDS = [
    "org_id",
    "api_url",
    "stacks",
    "checked_at",
    "managed_keys",
    "org_keys",
    "credential_key_ids",
    "drift",
    "findings",
    "orgs",
    "mode",
    "unreadable_orgs",
]
FINDING_FIELDS = [
    "problem",
    "org_id",
    "project",
    "stack",
    "resource",
    "kind",
    "key_id",
    "name",
    "expires_at",
    "detail",
]

FAKE_PULUMI = r'''#!PYTHON -IS
"""A stand-in for the pulumi CLI: the read-only commands of a file backend, with the real CLI's errors."""
import base64
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

VALUED = {"--stack": "stack", "-s": "stack"}
SWITCHES = {"--json", "-j", "--show-secrets", "--non-interactive", "--all", "-a"}


def fail(message):
    sys.stderr.write(f"error: {message}\n")
    sys.exit(255)


def parse(argv):
    words, flags = [], {}
    args = iter(argv)
    for arg in args:
        name, equals, value = arg.partition("=")
        if name in VALUED:
            flags[VALUED[name]] = value if equals else next(args, "")
        elif arg in SWITCHES:
            flags[arg.lstrip("-")] = True
        elif arg.startswith("-"):
            fail(f"unknown flag: {arg}")
        else:
            words.append(arg)
    return words, flags


def project_name():
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = Path.cwd() / name
        if path.is_file():
            match = re.search(r"(?m)^name:\s*(\S+)", path.read_text())
            if match:
                return match.group(1)
    fail(f"no Pulumi.yaml project file found (searching upwards from {Path.cwd()})")


def stacks_dir(project):
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("file://"):
        fail("PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions")
    return Path(url[len("file://"):]) / ".pulumi" / "stacks" / project


def stack_file(project, reference, any_project=False):
    """The state file of a stack; like the real CLI, `stack export` reaches another project's stack by its
    full name, while `config` (which needs that project's Pulumi.<stack>.yaml) does not."""
    if not reference:
        fail("no stack selected; please use `pulumi stack select` to choose one")
    parts = reference.split("/")
    org, named_project, stack = (["organization", project] + parts)[-3:]
    if org != "organization":
        fail(f"stack references on the file backend must use the organization 'organization', not {org!r}")
    if named_project != project and not any_project:
        fail(f'provided project name "{named_project}" doesn\'t match Pulumi.yaml')
    path = stacks_dir(named_project) / f"{stack}.json"
    if not path.is_file():
        fail(f"no stack named '{reference}' found")
    return path, stack


def decrypt(document, ciphertext):
    passphrase = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is None:
        fail(
            'constructing secrets manager of type "passphrase": passphrase must be set with '
            "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
        )
    if "v1:" + hashlib.sha256(passphrase.encode()).hexdigest() != document["encryptionsalt"]:
        fail("incorrect passphrase")
    return base64.b64decode(ciphertext.removeprefix("v1:")).decode()


def reveal(document, value):
    """A structured config value with its secrets decrypted, and whether it held any."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return decrypt(document, value["secure"]), True
    if isinstance(value, dict):
        items = {key: reveal(document, item) for key, item in value.items()}
        return {key: plain for key, (plain, _) in items.items()}, any(secret for _, secret in items.values())
    return value, False


SIG = "4dabf18193072939515e22adb298388d"


def unseal_state(salt, value):
    """A state with its secrets decrypted, as `pulumi stack export --show-secrets` prints it."""
    if isinstance(value, dict) and SIG in value and "ciphertext" in value:
        return {SIG: value[SIG], "plaintext": decrypt(salt, value["ciphertext"])}
    if isinstance(value, dict):
        return {key: unseal_state(salt, item) for key, item in value.items()}
    if isinstance(value, list):
        return [unseal_state(salt, item) for item in value]
    return value


def main(argv):
    time.sleep(float(os.environ.get("FAKE_PULUMI_DELAY") or 0))
    words, flags = parse(argv)
    if words == ["version"]:
        print(os.environ.get("FAKE_PULUMI_VERSION", "v3.274.1"))
        return
    project = project_name()
    if words == ["stack", "ls"] and flags.get("json"):
        listing = []
        # With --all, every project's stacks, named as the real CLI names them: this project's by their own
        # name, the others' as organization/<project>/<stack>.
        projects = sorted(path.name for path in stacks_dir(project).parent.glob("*")) if flags.get("all") else []
        paths = [
            (other, path)
            for other in (projects or [project])
            for path in sorted(stacks_dir(other).glob("*.json"))
        ]
        for other, path in paths:
            resources = json.loads(path.read_text())["deployment"]["resources"]
            listing.append(
                {
                    "name": path.stem if other == project else f"organization/{other}/{path.stem}",
                    "current": False,
                    "updateInProgress": False,
                    "resourceCount": len(resources),
                    "url": path.as_uri(),
                }
            )
        print(json.dumps(listing, indent=4))
    elif words == ["stack", "export"]:
        path, _ = stack_file(project, flags.get("stack"), any_project=True)
        if flags.get("stack") in os.environ.get("FAKE_PULUMI_UNREADABLE", "").split(","):
            fail(f"could not read stack {flags.get('stack')}: blob (code=PermissionDenied): access denied")
        if not flags.get("show-secrets"):
            print(path.read_text())
            return
        state = json.loads(path.read_text())
        salt = state["deployment"]["secrets_providers"]["state"]["salt"]
        print(json.dumps(unseal_state({"encryptionsalt": salt}, state), indent=4))
    elif words == ["config"] and flags.get("json"):
        _, stack = stack_file(project, flags.get("stack"))
        settings = Path(f"Pulumi.{stack}.yaml")
        document = json.loads(settings.read_text()) if settings.is_file() else {}
        shown = {}
        for key, value in sorted(document.get("config", {}).items()):
            secure = isinstance(value, dict) and "secure" in value
            if isinstance(value, dict) and not secure:
                # A map set with --path: the real CLI prints it as JSON text in "value", secrets inside decrypted.
                plain, secret = reveal(document, value)
                entry = {"secret": secret, "object": True}
                if not secret or flags.get("show-secrets"):
                    entry["value"] = json.dumps(plain, separators=(",", ":"), sort_keys=True)
                    entry["objectValue"] = plain
            else:
                entry = {"secret": secure, "object": False}
                if not secure:
                    entry["value"] = value
                elif flags.get("show-secrets"):
                    entry["value"] = decrypt(document, value["secure"])
            shown[key] = entry
        print(json.dumps(shown, indent=4))
    else:
        fail(f"unknown command: pulumi {' '.join(argv)} (this fake answers only read-only commands)")


main(sys.argv[1:])
'''


@dataclass(frozen=True)
class Managed:
    """A key a stack's state records: its resource, the key id, a kept previous key id, replaced keys whose
    revocation failed (to be retried by the next ``pulumi up``), and the org it lives in (None: state written
    before keys recorded their org).
    """

    resource: str
    key_id: str
    name: str | None = None
    previous_key_id: str | None = None
    pending_revoke_key_ids: tuple[str, ...] = ()
    org_id: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> dict[str, str]:
        """The revoke report's verdict lines, by key id."""
        found = (re.match(r"(revoked|refused|skipped|gone|failed) +([^\s:]+)", line) for line in self.out.splitlines())
        return {match.group(2): match.string for match in found if match}


def seal(value: str) -> dict[str, str]:
    """A config secret as the fake's passphrase provider stores it."""
    return {"secure": "v1:" + base64.b64encode(value.encode()).decode()}


def seal_state(value: object) -> dict[str, str]:
    """A secret in a state as the fake's passphrase provider stores it (the value's JSON, encrypted)."""
    return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": seal(json.dumps(value))["secure"]}


@dataclass
class Project:
    """A Pulumi project directory whose stacks live on the fake's file backend."""

    directory: Path
    name: str
    backend: Path

    def add_stack(
        self,
        stack: str,
        config: Mapping[str, str],
        keys: Sequence[Managed] = (),
        secrets: Collection[str] = ("ardent:token",),
        orgs: Mapping[str, Mapping[str, str]] | None = None,
        providers: Mapping[str, Mapping[str, object]] | None = None,
        state_passphrase: str = PASSPHRASE,
    ) -> None:
        """Write the stack's state (as ``pulumi stack export`` prints it) and its ``Pulumi.<stack>.yaml``.

        ``orgs`` is ``ardent:orgs`` as ``pulumi config set [--secret] --path 'ardent:orgs.<org>.token'`` leaves
        it: a map per org, the tokens encrypted. ``providers`` are explicit ``ardent`` provider resources by
        name, with their inputs (``token``, ``orgId``, ``apiUrl``, ``orgs``); a key whose ``provider`` names one
        is an ``ardent:index:ApiKey`` managed by it. ``state_passphrase`` encrypts the state's secrets.
        """
        state = self.backend / ".pulumi" / "stacks" / self.name
        state.mkdir(parents=True, exist_ok=True)
        document = self.deployment(stack, keys, providers or {}, state_passphrase)
        (state / f"{stack}.json").write_text(json.dumps(document, indent=4))
        values: dict[str, Any] = {key: seal(value) if key in secrets else value for key, value in config.items()}
        if orgs is not None:
            values["ardent:orgs"] = {
                org: {name: seal(value) if name == "token" else value for name, value in entry.items()}
                for org, entry in orgs.items()
            }
        document = {"encryptionsalt": "v1:" + hashlib.sha256(PASSPHRASE.encode()).hexdigest(), "config": values}
        (self.directory / f"Pulumi.{stack}.yaml").write_text(json.dumps(document, indent=2))

    def add_pending_create(self, stack: str, resource: str, name: str) -> None:
        """Leave a ``creating`` operation for ``resource`` (key name ``name``) pending in the stack's state, as a
        ``pulumi up`` that is creating the key, or was killed while it did, leaves it: no id, inputs only."""
        path = self.backend / ".pulumi" / "stacks" / self.name / f"{stack}.json"
        document = json.loads(path.read_text())
        urn = f"urn:pulumi:{stack}::{self.name}::{KEY_TYPE}::{resource}"
        operation = {"resource": {"urn": urn, "type": KEY_TYPE, "custom": True, "inputs": {"name": name}}}
        document["deployment"].setdefault("pending_operations", []).append({**operation, "type": "creating"})
        path.write_text(json.dumps(document))

    def deployment(
        self,
        stack: str,
        keys: Sequence[Managed],
        providers: Mapping[str, Mapping[str, object]] | None = None,
        passphrase: str = PASSPHRASE,
    ) -> dict[str, Any]:
        """A version-3 export: the stack, the dynamic provider, the explicit ``ardent`` providers, and one key
        resource per managed key.
        """
        prefix = f"urn:pulumi:{stack}::{self.name}::"
        stack_urn = f"{prefix}pulumi:pulumi:Stack::{self.name}-{stack}"
        provider_urn = f"{prefix}pulumi:providers:pulumi-python::default"
        resources: list[dict[str, Any]] = [
            {"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {}},
            {"urn": provider_urn, "custom": True, "id": "4f1c0de0", "type": "pulumi:providers:pulumi-python"},
        ]
        for name, settings in (providers or {}).items():
            recorded = {
                key: seal_state(value) if key in ("token", "orgs") else value for key, value in settings.items()
            }
            resources.append(
                {
                    "urn": f"{prefix}pulumi:providers:ardent::{name}",
                    "custom": True,
                    "id": f"id-{name}",
                    "type": "pulumi:providers:ardent",
                    "inputs": recorded,
                    "outputs": recorded,
                    "parent": stack_urn,
                }
            )
        for item in keys:
            if item.provider is not None:
                resources.append(
                    {
                        "urn": f"{prefix}ardent:index:ApiKey::{item.resource}",
                        "custom": True,
                        "id": item.key_id,
                        "type": "ardent:index:ApiKey",
                        "inputs": {"role": "role_org_viewer", "name": item.name or item.resource},
                        "outputs": {
                            "keyId": item.key_id,
                            "role": "role_org_viewer",
                            "status": "active",
                            "token": seal_state("sealed"),
                            **({"orgId": item.org_id} if item.org_id else {}),
                        },
                        "parent": stack_urn,
                        "provider": f"{prefix}pulumi:providers:ardent::{item.provider}::id-{item.provider}",
                    }
                )
                continue
            sealed = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:c2VhbGVk"}
            resources.append(
                {
                    "urn": f"{prefix}{KEY_TYPE}::{item.resource}",
                    "custom": True,
                    "id": item.key_id,
                    "type": KEY_TYPE,
                    "inputs": {"role": "role_org_viewer", "name": item.name or item.resource},
                    "outputs": {
                        "__provider": "sealed-provider",
                        "key_id": item.key_id,
                        # Without a name given, the key's real name is not known here: recorded as state from
                        # a release that kept no name output, so drift does not compare it.
                        **({"name": item.name} if item.name else {}),
                        "role": "role_org_viewer",
                        "status": "active",
                        "token": sealed,
                        "previous_key_id": item.previous_key_id,
                        "previous_token": sealed if item.previous_key_id else None,
                        "pending_revoke_key_ids": list(item.pending_revoke_key_ids),
                        **({"org_id": item.org_id} if item.org_id else {}),
                    },
                    "parent": stack_urn,
                    "provider": f"{provider_urn}::4f1c0de0",
                }
            )
            resources[0]["outputs"][f"{item.resource}_token"] = sealed
        return {
            "version": 3,
            "deployment": {
                "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "fake", "version": "v3.0.0"},
                "secrets_providers": {
                    "type": "passphrase",
                    "state": {"salt": "v1:" + hashlib.sha256(passphrase.encode()).hexdigest()},
                },
                "resources": resources,
            },
        }


@dataclass(frozen=True)
class Org:
    """Another org of the emulator, reached with its own owner token."""

    org_id: str
    token: str
    url: str

    def client(self) -> ArdentClient:
        return ArdentClient(self.token, api_url=self.url, retry=FAST_RETRY)

    def key(self, name: str) -> str:
        with self.client() as client:
            return client.create_key(self.org_id, name=name, role="role_org_viewer").id

    def revoked_key(self, name: str) -> str:
        key_id = self.key(name)
        with self.client() as client:
            client.revoke_key(self.org_id, key_id)
        return key_id

    def active(self) -> set[str]:
        with self.client() as client:
            return {key.id for key in client.list_keys(self.org_id)}

    def running_key_id(self) -> str:
        """The key of the org's owner token, the one a stack with these credentials runs with."""
        with self.client() as client:
            return next(key.id for key in client.list_keys(self.org_id) if self.token.startswith(key.key_prefix))


@dataclass
class World:
    """The emulator, an owner client onto it, a fake ``pulumi`` first on PATH, and projects on its backend."""

    emulator: EmulatorServer
    owner: ArdentClient
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    bin_dir: Path
    backend: Path
    outputs: list[str] = field(default_factory=list)

    @property
    def org_id(self) -> str:
        return self.emulator.org_id

    def project(self, name: str, directory: str | None = None) -> Project:
        path = self.tmp_path / (directory or name)
        path.mkdir(parents=True)
        (path / "Pulumi.yaml").write_text(f"name: {name}\nruntime:\n  name: python\n")
        return Project(path, name, self.backend)

    def config(self, token: str | None = None, **overrides: str) -> dict[str, str]:
        """Stack config as ``pulumi config set`` would leave it for this emulator, plus a key of the program."""
        settings = {
            "ardent:apiUrl": self.emulator.url,
            "ardent:orgId": self.org_id,
            "ardent:token": token or self.emulator.token,
            "app:replicas": "2",
        }
        settings.update(overrides)
        return settings

    def ardent_keys(self, *args: str) -> Result:
        """Run ``ardent-keys ARGS`` in-process, as the console script does."""
        code = main(list(args))
        captured = self.capsys.readouterr()
        self.outputs.append(captured.out + captured.err)
        return Result(code, captured.out, captured.err)

    def key(self, name: str, expires_days: int | None = None) -> tuple[str, str]:
        """A key created in the org (as Pulumi or a person would): its id and token."""
        created = self.owner.create_key(self.org_id, name=name, role="role_org_viewer", expires_days=expires_days)
        return created.id, created.token.reveal()

    def revoked_key(self, name: str) -> str:
        key_id, _ = self.key(name)
        self.owner.revoke_key(self.org_id, key_id)
        return key_id

    def active(self) -> dict[str, Any]:
        """The org's active keys by id, as the service lists them."""
        return {key.id: key for key in self.owner.list_keys(self.org_id)}

    def running_key_id(self) -> str:
        """The emulator's bootstrap owner key: the key whose token the stacks run with."""
        return next(key.id for key in self.owner.list_keys(self.org_id) if key.name == "emulator-bootstrap-owner")

    def wire_keys(self) -> dict[str, dict[str, Any]]:
        """The org's keys exactly as the service sends them."""
        response = httpx.get(
            f"{self.emulator.url}/v1/orgs/{self.org_id}/api-keys",
            headers={"Authorization": f"Bearer {self.emulator.token}"},
        )
        return {item["id"]: item for item in response.json()}

    def advance_days(self, days: float) -> None:
        httpx.post(f"{self.emulator.url}/_emulator/clock", json={"advance_seconds": days * DAY}).raise_for_status()

    def age_keys(self) -> None:
        """Let the service's clock pass revoke's minimum age (15 min by default) for every key made so far."""
        self.advance_days(20 / (24 * 60))

    def fault(self, route: str, **rule: Any) -> None:
        answer = httpx.post(f"{self.emulator.url}/_emulator/faults", json={"route": route, **rule})
        assert answer.is_success, answer.text

    def second_org(self) -> tuple[str, str]:
        answer = httpx.post(f"{self.emulator.url}/_emulator/orgs").json()
        return answer["org_id"], answer["token"]

    def org(self) -> Org:
        """Another org of the emulator, with its owner token."""
        org_id, token = self.second_org()
        return Org(org_id, token, self.emulator.url)

    def list_calls(self) -> int:
        """How many key lists the emulator has answered since the last :meth:`reset_stats`."""
        requests = httpx.get(f"{self.emulator.url}/_emulator/stats").json()["requests"]
        return int(requests.get("GET /v1/orgs/{org_id}/api-keys", 0))

    def reset_stats(self) -> None:
        httpx.post(f"{self.emulator.url}/_emulator/stats/reset").raise_for_status()

    def printed_anything_of(self, secrets: Sequence[str]) -> bool:
        return any(secret in output for secret in secrets for output in self.outputs)


@pytest.fixture
def world(
    tmp_path: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[World]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI.replace("PYTHON", sys.executable, 1))
    fake.chmod(0o755)
    backend = tmp_path / "backend"
    backend.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend.as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    for variable in ("ARDENT_TOKEN", "ARDENT_ORG_ID", "ARDENT_API_URL", "FAKE_PULUMI_DELAY"):
        monkeypatch.delenv(variable, raising=False)
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        yield World(emulator, owner, tmp_path, monkeypatch, capsys, bin_dir, backend)


def cwd(*projects: Project) -> list[str]:
    return [arg for project in projects for arg in ("--cwd", str(project.directory))]


@dataclass(frozen=True)
class DriftScene:
    """One stack with every kind of drift, and the ids and tokens involved."""

    project: Project
    ok: str
    previous: str
    pending: str
    pending_done: str
    gone: str
    gone_previous: str
    old: str
    soon: str
    by_hand: str
    tokens: tuple[str, ...]


def drift_scene(world: World) -> DriftScene:
    """``web/prod`` manages an active key with an active previous key and two replaced keys pending revocation
    (one still active, one revoked since), a key revoked outside Pulumi (with a revoked previous key), a key
    that expired, and one that expires in 3 days; a key made by hand is unmanaged.
    """
    gone, gone_previous = world.revoked_key("worker"), world.revoked_key("worker-old")
    old, old_token = world.key("old", expires_days=1)
    world.advance_days(2)
    ok, ok_token = world.key("api")
    previous, previous_token = world.key("api-previous")
    pending, pending_token = world.key("api-replaced")
    pending_done = world.revoked_key("api-replaced-earlier")
    soon, soon_token = world.key("soon", expires_days=3)
    by_hand, by_hand_token = world.key("made-by-hand")
    web = world.project("web")
    web.add_stack(
        "prod",
        world.config(),
        [
            Managed("api", ok, "api", previous_key_id=previous, pending_revoke_key_ids=(pending, pending_done)),
            Managed("worker", gone, "worker", previous_key_id=gone_previous),
            Managed("old", old, "old"),
            Managed("soon", soon, "soon"),
        ],
    )
    tokens = (world.emulator.token, old_token, ok_token, previous_token, pending_token, soon_token, by_hand_token)
    return DriftScene(web, ok, previous, pending, pending_done, gone, gone_previous, old, soon, by_hand, tokens)


# -- drift: clean -------------------------------------------------------------------------------------


def test_drift_exits_0_and_says_no_drift_when_every_managed_key_is_active_and_nothing_else_is(
    world: World,
) -> None:
    api, api_token = world.key("api")
    previous, _ = world.key("api-previous")
    web = world.project("web")
    web.add_stack("prod", world.config(), [Managed("api", api, "api", previous_key_id=previous)])
    world.monkeypatch.chdir(web.directory)

    table = world.ardent_keys("drift", "--unmanaged", "--stack", "prod")
    assert table.code == 0, table
    assert table.out.startswith("No drift") and "web/prod" in table.out and table.err == ""

    report = world.ardent_keys("drift", "--unmanaged", "--stack", "prod", "--json")
    assert report.code == 0, report
    payload = report.json()
    assert payload["drift"] is False and payload["findings"] == []
    assert payload["stacks"] == [{"project": "web", "stack": "prod", "directory": str(web.directory)}]
    assert payload["managed_keys"] == 2 and payload["org_keys"] == 3
    assert payload["credential_key_ids"] == [world.running_key_id()]
    assert not world.printed_anything_of([world.emulator.token, api_token])


def test_drift_reads_credentials_from_the_environment_when_the_stack_config_has_none(world: World) -> None:
    api, _ = world.key("api")
    web = world.project("web")
    web.add_stack("prod", {"app:replicas": "2"}, [Managed("api", api)])
    world.monkeypatch.setenv("ARDENT_TOKEN", world.emulator.token)
    world.monkeypatch.setenv("ARDENT_ORG_ID", world.org_id)
    world.monkeypatch.setenv("ARDENT_API_URL", world.emulator.url)

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")

    assert result.code == 0, result
    assert result.json()["org_id"] == world.org_id and result.json()["api_url"] == world.emulator.url


def test_the_same_stack_named_twice_or_the_same_directory_given_twice_is_read_once(world: World) -> None:
    api, _ = world.key("api")
    web = world.project("web")
    web.add_stack("prod", world.config(), [Managed("api", api)])

    result = world.ardent_keys(
        "drift", "--unmanaged", *cwd(web, web), "--stack", "prod", "--stack", "organization/web/prod", "--json"
    )

    assert result.code == 0, result
    assert [(s["project"], s["stack"]) for s in result.json()["stacks"]] == [("web", "prod")]
    assert result.json()["managed_keys"] == 1


# -- drift: findings ----------------------------------------------------------------------------------


def test_drift_table_shows_missing_expired_expiring_and_unmanaged_keys_and_exits_1(world: World) -> None:
    scene = drift_scene(world)

    result = world.ardent_keys("drift", "--unmanaged", *cwd(scene.project), "--stack", "prod", "--expiring-within", "7")

    assert result.code == 1, result
    rows = {line.split()[1]: line.split()[0] for line in result.out.splitlines()[1:] if line.strip()[:1].islower()}
    assert rows == {
        scene.gone: "missing",
        scene.gone_previous: "missing",
        scene.old: "expired",
        scene.soon: "expiring",
        scene.by_hand: "unmanaged",
        scene.pending: "revoke_pending",
    }
    header = result.out.splitlines()[0]
    assert all(column in header for column in ("PROBLEM", "KEY ID", "NAME", "STACK", "RESOURCE", "EXPIRES"))
    assert "web/prod" in result.out and result.out.rstrip().endswith("6 finding(s).")
    # Three days from creation, measured from the service's clock (whole seconds): just under or at 3 d.
    assert re.search(rf"{scene.soon} .* expires in (2 d 23|3 d 0) h", result.out)
    assert not world.printed_anything_of(scene.tokens)


def test_drift_without_expiring_within_does_not_report_keys_that_merely_expire_soon(world: World) -> None:
    scene = drift_scene(world)

    result = world.ardent_keys("drift", "--unmanaged", *cwd(scene.project), "--stack", "prod", "--json")

    assert result.code == 1, result
    problems = {f["key_id"]: f["problem"] for f in result.json()["findings"]}
    assert scene.soon not in problems and problems[scene.old] == "expired"


def test_drift_json_reports_every_finding_with_the_documented_fields(world: World) -> None:
    scene = drift_scene(world)
    running = world.running_key_id()

    result = world.ardent_keys(
        "drift", "--unmanaged", *cwd(scene.project), "--stack", "prod", "--expiring-within", "7", "--json"
    )

    assert result.code == 1, result
    payload = result.json()
    assert list(payload) == REPORT_FIELDS
    assert (payload["org_id"], payload["api_url"], payload["drift"]) == (world.org_id, world.emulator.url, True)
    assert payload["stacks"] == [{"project": "web", "stack": "prod", "directory": str(scene.project.directory)}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload["checked_at"])
    assert payload["managed_keys"] == 8
    assert payload["org_keys"] == len(world.active()) == 7
    assert payload["credential_key_ids"] == [running]
    assert all(list(finding) == FINDING_FIELDS for finding in payload["findings"])
    assert {f["org_id"] for f in payload["findings"]} == {world.org_id}
    # Managed findings first, by resource; the unmanaged key last, with no stack.
    assert [(f["problem"], f["resource"], f["kind"], f["key_id"]) for f in payload["findings"]] == [
        ("revoke_pending", "api", "pending-revoke", scene.pending),
        ("expired", "old", "current", scene.old),
        ("expiring", "soon", "current", scene.soon),
        *sorted(
            [("missing", "worker", "current", scene.gone), ("missing", "worker", "previous", scene.gone_previous)],
            key=lambda row: row[3],
        ),
        ("unmanaged", None, None, scene.by_hand),
    ]
    by_id = {f["key_id"]: f for f in payload["findings"]}
    wire = world.wire_keys()
    assert by_id[scene.old]["expires_at"] == wire[scene.old]["expires_at"]
    assert by_id[scene.soon]["expires_at"] == wire[scene.soon]["expires_at"]
    assert by_id[scene.gone]["expires_at"] is None and by_id[scene.gone]["name"] == "worker"
    assert (by_id[scene.by_hand]["project"], by_id[scene.by_hand]["stack"]) == (None, None)
    assert by_id[scene.by_hand]["name"] == "made-by-hand"
    assert {(f["project"], f["stack"]) for f in payload["findings"] if f["problem"] != "unmanaged"} == {("web", "prod")}
    assert running not in by_id and scene.ok not in by_id and scene.previous not in by_id
    # A pending revocation that has since gone through is no drift at all.
    assert scene.pending_done not in by_id
    assert not world.printed_anything_of(scene.tokens)


# -- drift: could not check ---------------------------------------------------------------------------


def test_drift_could_not_check_when_pulumi_fails_and_says_why_in_its_json(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())

    table = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "staging")
    report = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "staging", "--json")

    assert table.code == report.code == 2
    assert table.out == ""
    assert "could not check" in table.err and "no stack named 'staging' found" in table.err
    assert f"in {web.directory} failed" in table.err
    assert list(report.json()) == ["error"] and "no stack named 'staging' found" in report.json()["error"]


def test_drift_and_revoke_could_not_check_without_the_passphrase_and_revoke_nothing(world: World) -> None:
    orphan, _ = world.key("orphan")
    web = world.project("web")
    web.add_stack("prod", world.config())
    world.monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert drift.code == revoke.code == 2
    assert "PULUMI_CONFIG_PASSPHRASE" in drift.err and "PULUMI_CONFIG_PASSPHRASE" in revoke.err
    assert "nothing revoked" in revoke.err and revoke.out == ""
    assert orphan in world.active()


def test_drift_and_revoke_could_not_check_when_pulumi_is_not_on_path(world: World) -> None:
    orphan, _ = world.key("orphan")
    web = world.project("web")
    web.add_stack("prod", world.config())
    empty = world.tmp_path / "no-pulumi-here"
    empty.mkdir()
    world.monkeypatch.setenv("PATH", str(empty))

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert drift.code == revoke.code == 2
    assert "pulumi CLI is not on PATH" in drift.json()["error"]
    assert "pulumi CLI is not on PATH" in revoke.err and "nothing revoked" in revoke.err
    assert orphan in world.active()


def test_drift_could_not_check_when_the_pulumi_on_path_cannot_be_executed(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())
    (world.bin_dir / "pulumi").chmod(0o644)
    # Only the broken pulumi: a real one later on PATH would otherwise be found instead.
    world.monkeypatch.setenv("PATH", str(world.bin_dir))

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", "key_anything")

    assert drift.code == revoke.code == 2
    assert "could not check" in drift.err and "could not be run" in drift.err and "Traceback" not in drift.err
    assert "could not be run" in drift.json()["error"]
    assert "nothing revoked" in revoke.err and "could not be run" in revoke.err


def test_a_failing_pulumi_that_printed_secrets_on_stdout_never_has_them_quoted(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())
    leaked = "sk-ard_test_decrypted_secret_on_stdout"
    # Exits non-zero with nothing on stderr after printing decrypted config, as `config --show-secrets` would.
    (world.bin_dir / "pulumi").write_text(
        f'#!/bin/sh\necho \'{{"ardent:token": {{"secret": true, "value": "{leaked}"}}}}\'\nexit 3\n'
    )

    table = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")
    report = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", "key_anything")

    assert table.code == report.code == revoke.code == 2
    assert "exit code 3, nothing on stderr" in table.err and "exit code 3" in report.json()["error"]
    assert "nothing revoked" in revoke.err
    assert not world.printed_anything_of([leaked, "decrypted_secret"])


def test_drift_could_not_check_when_pulumi_does_not_answer_in_time(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())
    world.monkeypatch.setenv("FAKE_PULUMI_DELAY", "30")
    real_run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run

    def impatient_run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        # The CLI allows pulumi 300 s; the clock is shortened here, at the process boundary, not in cli.py.
        kwargs["timeout"] = min(kwargs.get("timeout") or 1.0, 1.0)
        return real_run(*args, **kwargs)

    world.monkeypatch.setattr(subprocess, "run", impatient_run)

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")

    assert result.code == 2
    assert "could not check" in result.err and "did not finish within" in result.err
    assert f"`pulumi config --stack prod --show-secrets --json` in {web.directory}" in result.err


def test_drift_and_revoke_refuse_an_unknown_ardent_setting_naming_the_one_meant(world: World) -> None:
    orphan, _ = world.key("orphan")
    web = world.project("web")
    config = world.config()
    config["ardent:apiURL"] = config.pop("ardent:apiUrl")
    web.add_stack("prod", config)
    hint = "`ardent:apiURL` is not a setting; did you mean `ardent:apiUrl`?"

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert drift.code == revoke.code == 2
    assert hint in drift.err and "stack web/prod" in drift.err
    assert hint in revoke.err and "nothing revoked" in revoke.err
    assert orphan in world.active()


def test_drift_refuses_an_api_url_ending_in_v1_saying_to_drop_it(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(**{"ardent:apiUrl": f"{world.emulator.url}/v1"}))

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")

    assert result.code == 2
    assert "drop /v1" in result.err and f"'{world.emulator.url}'" in result.err


def test_drift_and_revoke_could_not_check_when_the_stacks_token_no_longer_works(world: World) -> None:
    orphan, _ = world.key("orphan")
    stale, stale_token = world.key("stale-ci-token")
    world.owner.revoke_key(world.org_id, stale)
    web = world.project("web")
    web.add_stack("prod", world.config(token=stale_token))

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert drift.code == revoke.code == 2
    assert f"org {world.org_id} could not be read" in drift.json()["error"] and "HTTP 401" in drift.json()["error"]
    assert "pulumi config set --secret ardent:token <token>" in drift.json()["error"]
    assert "could not check, nothing revoked" in revoke.err and f"org {world.org_id}" in revoke.err
    assert orphan in world.active()
    assert not world.printed_anything_of([stale_token])


def test_drift_could_not_check_a_directory_that_is_not_a_named_pulumi_project(world: World) -> None:
    plain = world.tmp_path / "not-a-project"
    plain.mkdir()
    nameless = world.tmp_path / "nameless"
    nameless.mkdir()
    (nameless / "Pulumi.yaml").write_text("runtime:\n  name: python\n")

    missing = world.ardent_keys("drift", "--unmanaged", "--cwd", str(world.tmp_path / "nowhere"), "--stack", "prod")
    no_project = world.ardent_keys("drift", "--unmanaged", "--cwd", str(plain), "--stack", "prod")
    unnamed = world.ardent_keys("drift", "--unmanaged", "--cwd", str(nameless), "--stack", "prod")

    assert missing.code == no_project.code == unnamed.code == 2
    assert "no such directory" in missing.err
    assert "holds no Pulumi.yaml" in no_project.err and "--cwd" in no_project.err
    assert "has no top-level `name:`" in unnamed.err


def test_all_stacks_of_a_project_without_stacks_could_not_check(world: World) -> None:
    web = world.project("web")

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--all-stacks")

    assert result.code == 2 and "project web" in result.err and "has no stacks" in result.err


def test_an_expiry_window_out_of_range_is_refused_before_reading_any_stack(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())
    world.monkeypatch.setenv("PATH", str(world.tmp_path))

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--expiring-within", "-1")

    assert result.code == 2 and "--expiring-within" in result.err and "PATH" not in result.err


def test_drift_json_prints_an_error_object_for_an_expiry_window_out_of_range(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config())

    result = world.ardent_keys(
        "drift", "--unmanaged", *cwd(web), "--stack", "prod", "--expiring-within", "-1", "--json"
    )

    assert result.code == 2 and "--expiring-within" in result.json()["error"]
    assert list(result.json()) == ["error"] and "--expiring-within" in result.err


# -- several projects ---------------------------------------------------------------------------------


@pytest.fixture
def two_projects(world: World) -> tuple[Project, Project, dict[str, str]]:
    """``web`` (stacks prod and staging) and ``batch`` (stack prod), each managing keys; one orphan."""
    ids = {name: world.key(name)[0] for name in ("web-prod", "web-staging", "batch-prod", "orphan")}
    web, batch = world.project("web", "apps/web"), world.project("batch", "apps/batch")
    web.add_stack("prod", world.config(), [Managed("api", ids["web-prod"])])
    web.add_stack("staging", world.config(), [Managed("api", ids["web-staging"])])
    batch.add_stack("prod", world.config(), [Managed("job", ids["batch-prod"])])
    return web, batch, ids


def test_all_stacks_of_several_projects_leave_only_the_orphan_unmanaged(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, batch, ids = two_projects

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks", "--json")
    table = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks")

    assert result.code == table.code == 1, result
    payload = result.json()
    assert [(s["project"], s["stack"], s["directory"]) for s in payload["stacks"]] == [
        ("web", "prod", str(web.directory)),
        ("web", "staging", str(web.directory)),
        ("batch", "prod", str(batch.directory)),
    ]
    assert payload["managed_keys"] == 3
    assert [(f["problem"], f["key_id"]) for f in payload["findings"]] == [("unmanaged", ids["orphan"])]
    assert "1 finding(s)." in table.out


def test_a_qualified_stack_picks_its_project_and_the_other_projects_keys_look_unmanaged(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, batch, ids = two_projects

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--stack", "organization/batch/prod", "--json")

    assert result.code == 1, result
    payload = result.json()
    assert [(s["project"], s["stack"]) for s in payload["stacks"]] == [("batch", "prod")]
    assert [f["key_id"] for f in payload["findings"]] == sorted([ids["web-prod"], ids["web-staging"], ids["orphan"]])


def test_a_bare_stack_name_with_several_projects_is_ambiguous(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, batch, ids = two_projects

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--stack", "prod")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web, batch), "--stack", "prod", ids["orphan"])

    assert drift.code == revoke.code == 2
    assert "ambiguous" in drift.err and "write org/project/stack" in drift.err and "organization/web/prod" in drift.err
    assert "nothing revoked" in revoke.err and ids["orphan"] in world.active()


def test_a_qualified_stack_of_a_project_not_given_names_the_missing_cwd(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, batch, _ = two_projects

    unknown = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--stack", "organization/billing/prod")
    malformed = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "organization//prod")

    assert unknown.code == malformed.code == 2
    assert "no --cwd directory holds project billing" in unknown.err and str(web.directory) in unknown.err
    assert "is not a stack name" in malformed.err


def test_two_directories_of_one_project_are_refused(world: World) -> None:
    first, second = world.project("web", "checkout-a"), world.project("web", "checkout-b")

    result = world.ardent_keys("drift", "--unmanaged", *cwd(first, second), "--all-stacks")

    assert result.code == 2
    assert "are both project web" in result.err and str(first.directory) in result.err


# -- revoke -------------------------------------------------------------------------------------------


def test_revoke_revokes_a_key_no_stack_manages_and_exits_0(world: World) -> None:
    api, _ = world.key("api")
    orphan, orphan_token = world.key("orphan-by-hand")
    web = world.project("web")
    web.add_stack("prod", world.config(), [Managed("api", api)])

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert result.code == 0, result
    assert result.lines()[orphan].startswith(f"revoked  {orphan} ('orphan-by-hand')")
    assert result.out.rstrip().endswith("1 revoked, 0 not revoked.")
    assert set(world.active()) == {world.running_key_id(), api}
    assert not world.printed_anything_of([orphan_token, world.emulator.token])


def test_revoke_refuses_the_key_it_runs_with_and_every_stacks_token_and_keeps_them(world: World) -> None:
    batch_key, batch_token = world.key("batch-ci-token")
    web, batch = world.project("web"), world.project("batch")
    web.add_stack("prod", world.config())
    batch.add_stack("prod", world.config(token=batch_token))
    running = world.running_key_id()

    result = world.ardent_keys("revoke", "--yes", *cwd(web, batch), "--all-stacks", running, batch_key)

    assert result.code == 1, result
    lines = result.lines()
    assert lines[running].startswith("refused") and "the key this command runs with" in lines[running]
    assert "stack web/prod" in lines[running]
    assert lines[batch_key].startswith("refused") and "stack batch/prod runs with" in lines[batch_key]
    assert result.out.rstrip().endswith("0 revoked, 2 not revoked.")
    assert {running, batch_key} <= set(world.active())
    assert not world.printed_anything_of([batch_token, world.emulator.token])


def test_revoke_refuses_managed_keys_current_kept_previous_or_pending_revocation_and_still_revokes_the_orphan(
    world: World,
) -> None:
    api, _ = world.key("api")
    previous, _ = world.key("api-previous")
    pending, _ = world.key("api-replaced")
    orphan, _ = world.key("orphan")
    web = world.project("web")
    web.add_stack(
        "prod", world.config(), [Managed("api", api, previous_key_id=previous, pending_revoke_key_ids=(pending,))]
    )

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", api, previous, pending, orphan)

    assert result.code == 1, result
    lines = result.lines()
    assert lines[api].startswith("refused") and "the key of resource api in stack web/prod" in lines[api]
    assert "kept previous key of resource api" in lines[previous] and "pulumi up" in lines[previous]
    assert lines[pending].startswith("refused") and "resource api in stack web/prod" in lines[pending]
    assert lines[orphan].startswith("revoked")
    assert result.out.rstrip().endswith("1 revoked, 3 not revoked.")
    assert set(world.active()) == {world.running_key_id(), api, previous, pending}


def test_revoke_refuses_unknown_ids_and_points_at_refresh_for_a_revoked_key_a_stack_still_records(
    world: World,
) -> None:
    gone = world.revoked_key("worker")
    other_org, other_token = world.second_org()
    with ArdentClient(other_token, api_url=world.emulator.url, retry=FAST_RETRY) as stranger:
        foreign = stranger.create_key(other_org, name="theirs", role="role_org_viewer").id
    web = world.project("web")
    web.add_stack("prod", world.config(), [Managed("worker", gone)])
    before = set(world.active())

    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", "key_doesnotexist", gone, foreign, gone)

    assert result.code == 1, result
    lines = result.lines()
    assert set(lines) == {"key_doesnotexist", gone, foreign}
    assert all(line.startswith("refused") and "not an active key of org" in line for line in lines.values())
    assert "stack web/prod still records it" in lines[gone] and "pulumi refresh" in lines[gone]
    assert result.out.rstrip().endswith("0 revoked, 3 not revoked.")
    assert set(world.active()) == before


def test_revoke_reports_a_key_revoked_meanwhile_as_gone_and_a_refused_call_as_failed(world: World) -> None:
    raced, _ = world.key("raced")
    guarded, _ = world.key("guarded")
    web = world.project("web")
    web.add_stack("prod", world.config())
    world.fault(REVOKE_ROUTE, mode="status", status=404, count=1)
    world.fault(REVOKE_ROUTE, mode="status", status=403, count=1)

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", raced, guarded)

    # A failed revocation is an error (2), not a refusal (1).
    assert result.code == 2, result
    lines = result.lines()
    assert lines[raced].startswith("gone") and "revoked meanwhile" in lines[raced]
    assert lines[guarded].startswith("failed")
    assert result.out.rstrip().endswith("0 revoked, 2 not revoked.")
    assert result.err == "ardent-keys revoke: 1 key(s) could not be revoked; see the lines marked failed\n"
    assert {raced, guarded} <= set(world.active())


# -- several orgs -------------------------------------------------------------------------------------


def org_rows(table: str) -> list[tuple[str, str, str]]:
    """(org, problem, key id) of each row of a table with an ORG column."""
    rows = [line.split() for line in table.splitlines()[1:] if line.startswith("org_")]
    return [(row[0], row[1], row[2]) for row in rows]


def test_drift_reads_every_org_a_stack_uses_with_its_credentials_and_groups_findings_by_org(world: World) -> None:
    staging = world.org()
    api, api_token = world.key("api")
    orphan, orphan_token = world.key("orphan-prod")
    ci, gone = staging.key("ci"), staging.revoked_key("worker")
    staging_orphan = staging.key("orphan-staging")
    web = world.project("web")
    web.add_stack(
        "prod",
        world.config(),
        [Managed("api", api), Managed("ci", ci, org_id=staging.org_id), Managed("worker", gone, org_id=staging.org_id)],
        orgs={staging.org_id: {"token": staging.token}},
    )
    world.reset_stats()

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")

    assert result.code == 1, result
    assert world.list_calls() == 2, "one list call per org"
    payload = result.json()
    assert list(payload) == REPORT_FIELDS
    assert (payload["org_id"], payload["api_url"]) == (world.org_id, world.emulator.url)
    expected = sorted(
        [
            (world.org_id, "unmanaged", None, orphan),
            (staging.org_id, "missing", "worker", gone),
            (staging.org_id, "unmanaged", None, staging_orphan),
        ],
        key=lambda row: (row[0], row[2] is None),
    )
    assert [(f["org_id"], f["problem"], f["resource"], f["key_id"]) for f in payload["findings"]] == expected
    assert payload["orgs"] == [
        {"org_id": org_id, "api_url": world.emulator.url, "org_keys": 3}
        for org_id in sorted([world.org_id, staging.org_id])
    ]
    assert payload["managed_keys"] == 3 and payload["org_keys"] == 6
    # Each org's running credential is in use, never unmanaged.
    assert payload["credential_key_ids"] == sorted([world.running_key_id(), staging.running_key_id()])

    table = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")
    assert table.code == 1, table
    assert table.out.splitlines()[0].split()[:2] == ["ORG", "PROBLEM"]
    assert org_rows(table.out) == [(org, problem, key_id) for org, problem, _, key_id in expected]
    assert not world.printed_anything_of([world.emulator.token, staging.token, api_token, orphan_token])


def test_stacks_of_different_default_orgs_are_checked_together_each_org_against_its_own_stacks(world: World) -> None:
    batch_org = world.org()
    web_key, web_orphan = world.key("web-api")[0], world.key("web-orphan")[0]
    batch_key, batch_orphan = batch_org.key("batch-job"), batch_org.key("batch-orphan")
    web, batch = world.project("web"), world.project("batch")
    web.add_stack("prod", world.config(), [Managed("api", web_key)])
    batch.add_stack(
        "prod",
        world.config(token=batch_org.token, **{"ardent:orgId": batch_org.org_id}),
        [Managed("job", batch_key)],
    )

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks", "--json")

    assert result.code == 1, result
    payload = result.json()
    # The first stack's org leads the top-level fields; the findings cover both orgs.
    assert payload["org_id"] == world.org_id
    assert sorted((f["org_id"], f["key_id"]) for f in payload["findings"]) == sorted(
        [(world.org_id, web_orphan), (batch_org.org_id, batch_orphan)]
    )
    assert {f["problem"] for f in payload["findings"]} == {"unmanaged"}
    assert [org["org_id"] for org in payload["orgs"]] == sorted([world.org_id, batch_org.org_id])

    world.age_keys()
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web, batch), "--all-stacks", batch_orphan, web_orphan)

    assert revoke.code == 0, revoke
    lines = revoke.lines()
    assert lines[batch_orphan].startswith(f"revoked  {batch_orphan} ('batch-orphan') in org {batch_org.org_id}")
    assert lines[web_orphan].startswith(f"revoked  {web_orphan} ('web-orphan') in org {world.org_id}")
    assert set(world.active()) == {world.running_key_id(), web_key}
    assert batch_org.active() == {batch_org.running_key_id(), batch_key}
    clean = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks")
    assert clean.code == 0, clean
    assert "none of orgs" in clean.out and "has an unmanaged key" in clean.out


def test_an_org_is_read_with_the_stack_holding_its_own_credentials_not_a_borrowed_default_token(
    world: World,
) -> None:
    staging = world.org()
    ci = staging.key("ci")
    web, batch = world.project("web"), world.project("batch")
    # web manages a key in staging but holds no credentials for it; batch does.
    web.add_stack("prod", world.config(), [Managed("ci", ci, org_id=staging.org_id)])
    batch.add_stack("prod", world.config(), orgs={staging.org_id: {"token": staging.token}})

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks", "--json")

    assert result.code == 0, result
    assert result.json()["credential_key_ids"] == sorted([world.running_key_id(), staging.running_key_id()])


def test_revoke_revokes_each_key_in_its_org_and_refuses_ids_active_in_none_of_them(world: World) -> None:
    staging, stranger = world.org(), world.org()
    ci = staging.key("ci")
    staging_orphan, prod_orphan = staging.key("orphan-staging"), world.key("orphan-prod")[0]
    foreign = stranger.key("theirs")
    web = world.project("web")
    web.add_stack(
        "prod",
        world.config(),
        [Managed("ci", ci, org_id=staging.org_id)],
        orgs={staging.org_id: {"token": staging.token}},
    )
    staging_running = staging.running_key_id()
    requested = (staging_orphan, prod_orphan, foreign, staging_running, ci)

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", *requested)

    assert result.code == 1, result
    lines = result.lines()
    assert lines[staging_orphan].startswith("revoked") and f"in org {staging.org_id}" in lines[staging_orphan]
    assert lines[prod_orphan].startswith("revoked") and f"in org {world.org_id}" in lines[prod_orphan]
    assert lines[foreign].startswith("refused") and "not an active key of orgs" in lines[foreign]
    assert stranger.org_id not in lines[foreign]
    assert lines[staging_running].startswith("refused") and "the key this command runs with" in lines[staging_running]
    assert f"in org {staging.org_id}" in lines[staging_running]
    assert lines[ci].startswith("refused") and "resource ci in stack web/prod" in lines[ci]
    assert result.out.rstrip().endswith("2 revoked, 3 not revoked.")
    assert staging.active() == {staging_running, ci}
    assert foreign in stranger.active() and prod_orphan not in world.active()
    assert not world.printed_anything_of([staging.token, stranger.token, world.emulator.token])


def test_an_org_without_credentials_is_an_error_row_naming_the_org_and_what_to_set_while_others_are_checked(
    world: World,
) -> None:
    partners = world.org()
    partner_key, orphan = partners.key("partner-ci"), world.key("orphan")[0]
    web = world.project("web")
    # The key's org has no ardent:orgs entry: the default token is tried there and refused (403).
    web.add_stack("prod", world.config(), [Managed("partner-ci", partner_key, org_id=partners.org_id)])
    setting = f"pulumi config set --secret --path 'ardent:orgs.{partners.org_id}.token' <token>"

    drift = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")
    revoke = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", orphan)

    assert drift.code == revoke.code == 2
    report = drift.json()
    (row,) = [finding for finding in report["findings"] if finding["org_id"] == partners.org_id]
    assert (row["problem"], row["project"], row["stack"], row["kind"]) == ("error", "web", "prod", "default provider")
    error = row["detail"]
    assert f"org {partners.org_id} could not be read" in error and "HTTP 403" in error and setting in error
    assert f"--stack prod` in {web.directory}" in error
    assert report["unreadable_orgs"] == [partners.org_id]
    # The stack's other org is still checked: its orphan is reported.
    assert [f["key_id"] for f in report["findings"] if f["problem"] == "unmanaged"] == [orphan]
    assert f"org {partners.org_id}" in revoke.err and "nothing revoked" in revoke.err
    assert orphan in world.active() and partner_key in partners.active()
    assert not world.printed_anything_of([world.emulator.token, partners.token])


def test_a_stack_with_no_token_at_all_for_an_org_it_uses_is_an_error_row_costing_that_org_no_request(
    world: World,
) -> None:
    partners = world.org()
    partner_key = partners.key("partner-ci")
    web = world.project("web")
    config = world.config()
    del config["ardent:token"]
    # The default org has credentials of its own (an ardent:orgs entry); the partners org has none at all.
    web.add_stack(
        "prod",
        config,
        [Managed("partner-ci", partner_key, org_id=partners.org_id)],
        orgs={world.org_id: {"token": world.emulator.token}},
    )
    world.reset_stats()

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod")

    assert result.code == 2
    assert f"org {partners.org_id} cannot be read: stack web/prod:" in result.out
    assert f"ardent:orgs.{partners.org_id}.token" in result.out
    assert world.list_calls() == 1, "only the org the stack has a token for"


def test_an_org_whose_own_token_was_revoked_could_not_check_naming_its_setting(world: World) -> None:
    staging = world.org()
    with staging.client() as client:
        stale = client.create_key(staging.org_id, name="stale-admin", role="role_org_admin")
        client.revoke_key(staging.org_id, stale.id)
    ci = staging.key("ci")
    web = world.project("web")
    web.add_stack(
        "prod",
        world.config(),
        [Managed("ci", ci, org_id=staging.org_id)],
        orgs={staging.org_id: {"token": stale.token.reveal()}},
    )

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")

    assert result.code == 2
    (error,) = [f["detail"] for f in result.json()["findings"] if f["problem"] == "error"]
    assert f"org {staging.org_id} could not be read" in error and "HTTP 401" in error
    assert f"--path 'ardent:orgs.{staging.org_id}.token'" in error
    assert not world.printed_anything_of([stale.token.reveal()])


def test_stacks_reaching_one_org_at_different_api_urls_are_refused(world: World) -> None:
    web, batch = world.project("web"), world.project("batch")
    web.add_stack("prod", world.config())
    batch.add_stack("prod", world.config(**{"ardent:apiUrl": world.emulator.url.replace("127.0.0.1", "localhost")}))

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web, batch), "--all-stacks")

    assert result.code == 2
    assert f"org {world.org_id} at different API URLs" in result.err and "web/prod" in result.err


# -- one org, many teams -------------------------------------------------------------------------------


def test_the_drift_gate_passes_for_a_stack_whose_own_keys_are_in_order_whatever_else_the_org_holds(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, _, ids = two_projects
    ours = world.key("web-extra")[0]
    web.add_stack("prod", world.config(), [Managed("api", ids["web-prod"]), Managed("extra", ours, name="web-extra")])

    gate = world.ardent_keys("drift", *cwd(web), "--stack", "prod")
    gate_json = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    nightly = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json")

    assert gate.code == gate_json.code == 0, gate
    assert gate.out.startswith("No drift: every key of web/prod is active and as its state records it.")
    assert gate_json.json()["findings"] == [] and gate_json.json()["mode"] == "own"
    assert nightly.code == 1
    unmanaged = {f["key_id"] for f in nightly.json()["findings"] if f["problem"] == "unmanaged"}
    assert unmanaged == {ids["web-staging"], ids["batch-prod"], ids["orphan"]}
    assert nightly.json()["mode"] == "unmanaged"
    # The gate still fails on the stack's own problems.
    world.owner.revoke_key(world.org_id, ours)
    failing = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    assert failing.code == 1
    assert [(f["problem"], f["key_id"]) for f in failing.json()["findings"]] == [("missing", ours)]


def test_drift_reports_an_operation_left_pending_with_the_command_that_settles_it(world: World) -> None:
    web = world.project("web")
    kept, _ = world.key("kept")
    gone = world.revoked_key("being-deleted")
    web.add_stack("prod", world.config(), [Managed("kept", kept), Managed("old", gone)])
    state = world.backend / ".pulumi" / "stacks" / "web" / "prod.json"
    document = json.loads(state.read_text())
    old = next(item for item in document["deployment"]["resources"] if item.get("id") == gone)
    new = {"urn": old["urn"].replace("::old", "::new"), "type": KEY_TYPE, "custom": True, "inputs": {"name": "new"}}
    document["deployment"]["pending_operations"] = [
        {"resource": old, "type": "deleting"},
        {"resource": new, "type": "creating"},
    ]
    state.write_text(json.dumps(document))

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    table = world.ardent_keys("drift", *cwd(web), "--stack", "prod")

    assert result.code == table.code == 1, result
    findings = result.json()["findings"]
    assert [(f["problem"], f["resource"], f["kind"], f["key_id"]) for f in findings] == [
        ("pending_operation", "new", "creating", None),
        ("pending_operation", "old", "deleting", gone),
    ]
    assert all("pulumi refresh --yes --clear-pending-creates --stack prod" in f["detail"] for f in findings)
    assert "outside Pulumi" not in table.out and "pending_operation" in table.out


def test_drift_reports_a_key_an_interrupted_delete_before_replace_left_active_and_not_one_it_revoked(
    world: World,
) -> None:
    web = world.project("web")
    held, _ = world.key("held")
    done = world.revoked_key("done")
    web.add_stack("prod", world.config(), [Managed("held", held), Managed("done", done)])
    state = world.backend / ".pulumi" / "stacks" / "web" / "prod.json"
    document = json.loads(state.read_text())
    for resource in document["deployment"]["resources"]:
        if resource.get("id") in (held, done):
            resource["pendingReplacement"] = True
    state.write_text(json.dumps(document))

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    table = world.ardent_keys("drift", *cwd(web), "--stack", "prod")

    assert result.code == table.code == 1, result
    (finding,) = result.json()["findings"]
    assert (finding["problem"], finding["resource"], finding["key_id"]) == ("pending_replacement", "held", held)
    assert "run `pulumi up --stack prod`" in finding["detail"] and "`pulumi destroy`" in finding["detail"]
    assert "pending_replacement" in table.out and "missing" not in table.out


def test_revoke_refuses_a_key_that_another_project_of_the_backend_manages_without_its_cwd(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, _, ids = two_projects

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", ids["batch-prod"], ids["orphan"])

    assert result.code == 1, result
    lines = result.lines()
    assert lines[ids["batch-prod"]].startswith("refused") and "resource job in stack batch/prod" in result.out
    assert lines[ids["orphan"]].startswith("revoked")
    assert ids["batch-prod"] in world.active() and ids["orphan"] not in world.active()


def test_revoke_refuses_every_key_while_a_stack_of_the_backend_cannot_be_read(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, _, ids = two_projects
    world.monkeypatch.setenv("FAKE_PULUMI_UNREADABLE", "organization/batch/prod")

    world.age_keys()
    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", ids["orphan"])

    assert result.code == 1, result
    assert result.lines()[ids["orphan"]].startswith("refused")
    assert "could not be read" in result.out and "batch/prod" in result.out and "access denied" in result.out
    assert ids["orphan"] in world.active()


def test_drift_unmanaged_names_a_backend_stack_it_could_not_read_and_exits_2(
    world: World, two_projects: tuple[Project, Project, dict[str, str]]
) -> None:
    web, _, ids = two_projects
    world.monkeypatch.setenv("FAKE_PULUMI_UNREADABLE", "organization/batch/prod")

    result = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--all-stacks", "--json")
    table = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--all-stacks")

    assert result.code == table.code == 2, result
    findings = result.json()["findings"]
    (error,) = [f for f in findings if f["problem"] == "error"]
    assert (error["org_id"], error["project"], error["stack"], error["kind"]) == ("", "batch", "prod", "stack")
    assert "access denied" in error["detail"] and "may include them" in error["detail"]
    unmanaged = [f for f in findings if f["problem"] == "unmanaged"]
    assert sorted(f["key_id"] for f in unmanaged) == sorted([ids["batch-prod"], ids["orphan"]])
    assert all("batch/prod of the backend could not be read" in f["detail"] for f in unmanaged)
    assert result.json()["unreadable_orgs"] == []
    assert "error" in table.out and "access denied" in table.out


def test_revoke_shows_the_plan_and_without_a_terminal_or_yes_revokes_nothing(world: World) -> None:
    web = world.project("web")
    managed, _ = world.key("web-api")
    by_hand, _ = world.key("made-by-hand")
    web.add_stack("prod", world.config(), [Managed("api", managed, name="web-api")])

    world.age_keys()
    dry = world.ardent_keys("revoke", *cwd(web), "--stack", "prod", "--dry-run", by_hand)
    dry_refused = world.ardent_keys("revoke", *cwd(web), "--stack", "prod", "--dry-run", by_hand, managed)
    unconfirmed = world.ardent_keys("revoke", *cwd(web), "--stack", "prod", by_hand)

    assert dry.code == 0 and dry_refused.code == 1 and unconfirmed.code == 2, (dry, dry_refused, unconfirmed)
    header = dry.out.splitlines()[0].split()
    assert header == ["KEY", "ID", "NAME", "ROLE", "CREATED", "LAST", "USED", "VERDICT"]
    row = next(line for line in dry.out.splitlines() if line.startswith(by_hand))
    assert "made-by-hand" in row and "unknown" in row and "never" in row and "revoke:" in row
    managed_row = next(line for line in dry_refused.out.splitlines() if line.startswith(managed))
    assert "role_org_viewer" in managed_row and "refused:" in managed_row
    assert "Dry run: nothing revoked." in dry.out
    assert "no terminal" in unconfirmed.err and "--yes" in unconfirmed.err
    assert by_hand in world.active() and managed in world.active()

    yes = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", by_hand)
    assert yes.code == 0 and yes.lines()[by_hand].startswith("revoked") and by_hand not in world.active()


@pytest.mark.parametrize(
    ("answer", "code", "revoked"), [("y", 0, True), ("yes", 0, True), ("", 2, False), ("n", 2, False)]
)
def test_revoke_on_a_terminal_acts_only_on_confirmation(world: World, answer: str, code: int, revoked: bool) -> None:
    from ardent_provider.cli import build_parser, revoke

    web = world.project("web")
    by_hand, _ = world.key("made-by-hand")
    web.add_stack("prod", world.config(), [])
    questions: list[str] = []

    def ask(question: str) -> str:
        questions.append(question)
        return answer

    world.age_keys()
    args = build_parser().parse_args(["revoke", *cwd(web), "--stack", "prod", by_hand])
    assert revoke(args, ask=ask, interactive=True) == code
    assert len(questions) == 1 and "Revoke the 1 key(s)" in questions[0]
    assert (by_hand not in world.active()) is revoked


def test_a_pulumi_cli_older_than_the_package_needs_is_named_with_the_minimum(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    world.monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.120.0")

    drift = world.ardent_keys("drift", *cwd(web), "--stack", "prod")
    policy = world.ardent_keys("policy-pack")

    assert drift.code == 2 and "the Pulumi CLI on PATH is 3.120.0" in drift.err and "3.139.0 or newer" in drift.err
    assert policy.code == 2 and policy.out == "" and "3.255.0 or newer" in policy.err
    world.monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.139.0")
    assert world.ardent_keys("drift", *cwd(web), "--stack", "prod").code == 0


def test_revoke_refuses_a_key_used_within_the_last_day_unless_allowed(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    in_use, token = world.key("someone-elses-token")
    world.age_keys()
    with ArdentClient(token, api_url=world.emulator.url, retry=FAST_RETRY) as client:
        client.get_org(world.org_id)

    refused = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", in_use)
    assert refused.code == 1 and refused.lines()[in_use].startswith("refused")
    assert "it was used 0 min ago" in refused.out and "--allow-recently-used" in refused.out
    assert in_use in world.active()

    allowed = world.ardent_keys("revoke", "--yes", "--allow-recently-used", *cwd(web), "--stack", "prod", in_use)
    assert allowed.code == 0 and in_use not in world.active()


def test_revoke_after_a_day_without_use_needs_no_flag(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    idle, token = world.key("idle-since-yesterday")
    with ArdentClient(token, api_url=world.emulator.url, retry=FAST_RETRY) as client:
        client.get_org(world.org_id)
    httpx.post(f"{world.emulator.url}/_emulator/clock", json={"advance_seconds": 25 * 3600}).raise_for_status()

    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", idle)
    assert result.code == 0, result
    assert idle not in world.active()


def test_an_end_of_input_at_the_prompt_is_no_confirmation(world: World) -> None:
    from ardent_provider.cli import build_parser, revoke

    web = world.project("web")
    by_hand, _ = world.key("made-by-hand")
    web.add_stack("prod", world.config(), [])

    def closed(question: str) -> str:
        raise EOFError

    world.age_keys()
    args = build_parser().parse_args(["revoke", *cwd(web), "--stack", "prod", by_hand])
    assert revoke(args, ask=closed, interactive=True) == 2
    assert by_hand in world.active()


# -- explicit providers --------------------------------------------------------------------------------


def partner_stack(world: World, web: Project, partner: Org, **extra: Any) -> tuple[str, str, str]:
    """``web/prod``: a key in the default org, and one in ``partner`` under explicit provider ``partner``, whose
    token (an admin key of that org, given only to the provider) appears nowhere in the stack's config.

    The ids of the default org's key, the partner org's key and the provider's key.
    """
    with partner.client() as client:
        admin = client.create_key(partner.org_id, name="partner-admin", role="role_org_admin")
    far = partner.key("far")
    home = world.key("home")[0]
    web.add_stack(
        "prod",
        world.config(),
        [Managed("home", home, org_id=world.org_id), Managed("far", far, org_id=partner.org_id, provider="partner")],
        providers={"partner": {"token": admin.token.reveal(), "orgId": partner.org_id, "apiUrl": world.emulator.url}},
        **extra,
    )
    return home, far, admin.id


def test_an_explicit_providers_org_is_read_with_the_providers_token_and_its_key_counts_as_a_credential(
    world: World,
) -> None:
    partner = world.org()
    web = world.project("web")
    _, far, admin = partner_stack(world, web, partner)

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")

    assert result.code == 0, result
    report = result.json()
    assert [org["org_id"] for org in report["orgs"]] == sorted([world.org_id, partner.org_id])
    assert admin in report["credential_key_ids"] and world.running_key_id() in report["credential_key_ids"]
    assert report["findings"] == [] and report["unreadable_orgs"] == []
    unmanaged = world.ardent_keys("drift", "--unmanaged", *cwd(web), "--stack", "prod", "--json").json()
    reported = {finding["key_id"] for finding in unmanaged["findings"]}
    assert admin not in reported and partner.running_key_id() in reported, "only the org owner's key is nobody's"

    partner_owner = partner.client()
    with partner_owner:
        partner_owner.revoke_key(partner.org_id, far)
    drifted = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    assert drifted.code == 1
    assert [(f["problem"], f["key_id"], f["org_id"]) for f in drifted.json()["findings"]] == [
        ("missing", far, partner.org_id)
    ]
    assert not world.printed_anything_of([partner.token, world.emulator.token])


def test_revoke_refuses_the_key_an_explicit_provider_runs_with_even_idle_and_from_another_project(
    world: World,
) -> None:
    partner = world.org()
    web, ops = world.project("web"), world.project("ops")
    _, _, admin = partner_stack(world, web, partner)
    # ops knows the partner org through an ardent:orgs entry (the owner's token), and nothing of web's provider.
    ops.add_stack(
        "prod",
        world.config(),
        [Managed("audit", partner.key("audit"), org_id=partner.org_id)],
        orgs={partner.org_id: {"token": partner.token}},
    )
    world.advance_days(3)

    here = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", admin)
    there = world.ardent_keys("revoke", "--yes", *cwd(ops), "--stack", "prod", admin)

    assert here.code == there.code == 1
    assert "web/prod (provider resource partner)" in here.lines()[admin]
    assert here.lines()[admin].startswith("refused") and there.lines()[admin].startswith("refused")
    assert "it is the Ardent token that stack web/prod (provider resource partner) runs with" in there.lines()[admin]
    assert admin in partner.active()
    unmanaged = world.ardent_keys("drift", "--unmanaged", *cwd(ops), "--stack", "prod", "--json").json()
    assert admin not in {finding["key_id"] for finding in unmanaged["findings"]}


def test_a_stack_of_the_backend_whose_providers_cannot_be_decrypted_stops_every_revocation(world: World) -> None:
    partner = world.org()
    web, ops = world.project("web"), world.project("ops")
    partner_stack(world, web, partner, state_passphrase="another-passphrase")
    ops.add_stack("prod", world.config())
    orphan = world.key("orphan")[0]
    world.advance_days(3)

    result = world.ardent_keys("revoke", "--yes", *cwd(ops), "--stack", "prod", orphan)

    assert result.code == 1
    assert "web/prod: the tokens its ardent providers run with could not be decrypted" in result.lines()[orphan]
    assert orphan in world.active()


def test_an_org_whose_explicit_provider_is_refused_is_an_error_row_naming_the_provider_and_the_fix(
    world: World,
) -> None:
    partner = world.org()
    web = world.project("web")
    home, _, admin = partner_stack(world, web, partner)
    with partner.client() as client:
        client.revoke_key(partner.org_id, admin)
    world.owner.revoke_key(world.org_id, home)

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    table_form = world.ardent_keys("drift", *cwd(web), "--stack", "prod")

    assert result.code == table_form.code == 2
    findings = result.json()["findings"]
    assert [(f["problem"], f["org_id"]) for f in findings] == sorted(
        [("missing", world.org_id), ("error", partner.org_id)], key=lambda row: row[1]
    )
    (error,) = [f for f in findings if f["problem"] == "error"]
    assert (error["project"], error["stack"], error["resource"], error["kind"]) == (
        "web",
        "prod",
        "partner",
        "provider",
    )
    assert "HTTP 401" in error["detail"] and "provider resource partner" in error["detail"]
    assert "`token` input of provider resource partner in the program of stack web/prod" in error["detail"]
    assert result.json()["unreadable_orgs"] == [partner.org_id]
    assert "error" in table_form.out and "1 finding" not in table_form.out
    audit = world.ardent_keys("audit", *cwd(web), "--stack", "prod", "--json")
    assert audit.code == 2 and not audit.json()["clean"]
    (unread,) = audit.json()["unreadable_orgs"]
    assert (unread["org_id"], unread["project"], unread["stack"], unread["provider"]) == (
        partner.org_id,
        "web",
        "prod",
        "partner",
    )
    assert error["detail"].endswith(unread["reason"]) and "HTTP 401" in unread["reason"]
    assert [org["org_id"] for org in audit.json()["orgs"]] == [world.org_id], "the other org is still audited"


def test_an_explicit_provider_whose_settings_cannot_be_decrypted_is_an_error_row_and_other_orgs_are_checked(
    world: World,
) -> None:
    partner = world.org()
    web = world.project("web")
    home, far, _ = partner_stack(world, web, partner, state_passphrase="another-passphrase")
    world.owner.revoke_key(world.org_id, home)

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")
    audit = world.ardent_keys("audit", *cwd(web), "--stack", "prod", "--json")

    assert result.code == audit.code == 2, result
    findings = result.json()["findings"]
    assert [(f["problem"], f["org_id"]) for f in findings] == sorted(
        [("missing", world.org_id), ("error", partner.org_id)], key=lambda row: row[1]
    )
    (error,) = [f for f in findings if f["problem"] == "error"]
    assert (error["stack"], error["resource"], error["kind"]) == ("prod", "partner", "provider")
    assert "provider resource partner of stack web/prod" in error["detail"]
    assert "incorrect passphrase" in error["detail"] and "decrypt the stack's secrets" in error["detail"]
    assert far not in error["detail"] and result.json()["unreadable_orgs"] == [partner.org_id]
    (unread,) = audit.json()["unreadable_orgs"]
    assert (unread["org_id"], unread["provider"]) == (partner.org_id, "partner")
    assert [org["org_id"] for org in audit.json()["orgs"]] == [world.org_id]


# -- revoke and running pipelines -----------------------------------------------------------------------


def test_revoke_refuses_a_key_made_a_minute_ago_saying_so_and_takes_another_minimum_age(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    fresh, _ = world.key("made-a-minute-ago")
    world.advance_days(90 / DAY)  # the service's Date header has whole seconds: a minute and a half, read as 1 min

    refused = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", fresh)
    assert refused.code == 1, refused
    line = refused.lines()[fresh]
    assert line.startswith("refused") and "it was created 1 min ago, less than --min-age 15 min" in line
    assert "not used for a day" not in refused.out and fresh in world.active()

    bad = world.ardent_keys("revoke", "--yes", "--min-age", "-1", *cwd(web), "--stack", "prod", fresh)
    assert (bad.code, bad.out) == (2, "") and "--min-age must be a number of minutes" in bad.err

    sooner = world.ardent_keys("revoke", "--yes", "--min-age", "0.5", *cwd(web), "--stack", "prod", fresh)
    assert sooner.code == 0, sooner
    assert "created 1 min ago, never used" in sooner.lines()[fresh] and fresh not in world.active()


def test_revoke_refuses_a_key_that_a_stack_of_the_backend_is_creating_naming_the_stack(world: World) -> None:
    web, batch = world.project("web"), world.project("batch")
    web.add_stack("prod", world.config(), [])
    batch.add_stack("prod", world.config(), [])
    # The batch pipeline's `pulumi up` has created its key; the state does not record its id yet.
    batch.add_pending_create("prod", "job", "batch-job")
    being_made, _ = world.key("batch-job")
    other, _ = world.key("hand-made")
    world.age_keys()

    result = world.ardent_keys("revoke", "--yes", *cwd(web), "--stack", "prod", being_made, other)

    assert result.code == 1, result
    line = result.lines()[being_made]
    assert line.startswith("refused") and "stack batch/prod has a `creating` operation pending for resource job" in line
    assert "named 'batch-job' like this key" in line and "--clear-pending-creates" in line
    assert result.lines()[other].startswith("revoked")
    assert being_made in world.active() and other not in world.active()


def test_revoke_skips_each_approved_key_that_changed_between_the_plan_and_the_confirmation(world: World) -> None:
    from ardent_provider.cli import build_parser, revoke

    web, batch = world.project("web"), world.project("batch")
    web.add_stack("prod", world.config(), [])
    batch.add_stack("prod", world.config(), [])
    recorded, _ = world.key("recorded-meanwhile")
    used, used_token = world.key("used-meanwhile")
    gone, _ = world.key("revoked-meanwhile")
    pended, _ = world.key("being-created-meanwhile")
    still, _ = world.key("unchanged")
    world.age_keys()
    keys = [recorded, used, gone, pended, still]

    def meanwhile(question: str) -> str:
        # What other pipelines and people do while the plan waits for an answer.
        batch.add_stack("prod", world.config(), [Managed("job", recorded)])
        batch.add_pending_create("prod", "worker", "being-created-meanwhile")
        with ArdentClient(used_token, api_url=world.emulator.url, retry=FAST_RETRY) as client:
            client.get_org(world.org_id)
        world.owner.revoke_key(world.org_id, gone)
        return "y"

    args = build_parser().parse_args(["revoke", *cwd(web), "--stack", "prod", *keys])
    code = revoke(args, ask=meanwhile, interactive=True)
    out = world.capsys.readouterr().out
    lines = Result(code, out, "").lines()

    assert code == 1, out
    assert "Plan: 5 to revoke, 0 refused." in out
    assert (
        lines[recorded].startswith("skipped")
        and "now refused: it is the key of resource job in stack batch/prod" in (lines[recorded])
    )
    assert (
        lines[used].startswith("skipped")
        and "changed since the plan, now refused: it was used 0 min ago" in (lines[used])
    )
    assert lines[gone].startswith("gone") and "no longer an active key since the plan" in lines[gone]
    assert (
        lines[pended].startswith("skipped") and "stack batch/prod has a `creating` operation pending" in (lines[pended])
    )
    assert lines[still].startswith("revoked")
    assert out.rstrip().endswith("1 revoked, 4 not revoked.")
    assert set(world.active()) >= {recorded, used, pended} and still not in world.active()


def test_revoke_revokes_nothing_when_the_backend_cannot_be_read_again_after_the_plan(world: World) -> None:
    from ardent_provider.cli import build_parser, revoke

    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    orphan, _ = world.key("orphan")
    world.age_keys()

    def meanwhile(question: str) -> str:
        world.monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://unreachable-bucket")
        return "y"

    args = build_parser().parse_args(["revoke", *cwd(web), "--stack", "prod", orphan])
    assert revoke(args, ask=meanwhile, interactive=True) == 2
    err = world.capsys.readouterr().err
    assert "could not read the backend's stacks again before revoking, nothing revoked" in err
    assert orphan in world.active()


def test_revoke_fails_with_2_for_a_key_whose_org_cannot_be_listed_again_before_it_goes(world: World) -> None:
    from ardent_provider.cli import build_parser, revoke

    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    orphan, _ = world.key("orphan")
    world.age_keys()

    def meanwhile(question: str) -> str:
        world.fault("GET /v1/orgs/{org_id}/api-keys", mode="status", status=403)
        return "y"

    args = build_parser().parse_args(["revoke", *cwd(web), "--stack", "prod", orphan])
    code = revoke(args, ask=meanwhile, interactive=True)
    captured = world.capsys.readouterr()
    assert code == 2, captured
    line = Result(code, captured.out, "").lines()[orphan]
    assert line.startswith("failed") and f"could not list org {world.org_id} again just before revoking" in line
    httpx.delete(f"{world.emulator.url}/_emulator/faults").raise_for_status()
    assert orphan in world.active()


# -- every command's crash paths exit 2 -------------------------------------------------------------


COMMANDS = {
    "drift": ["drift", "--stack", "prod"],
    "revoke": ["revoke", "--yes", "--stack", "prod", "key_anything"],
    "audit": ["audit", "--stack", "prod"],
}


def one_line_error(result: Result, command: str) -> str:
    """The single stderr line of a run that exits 2, which must name the command."""
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ardent-keys {command}: "), result.err
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    "state",
    ['{"version": 3, "deployment": {"resources": [', '{"version": 3, "deployment": {"resources": {"api": 1}}}'],
    ids=["truncated", "misshapen"],
)
def test_a_broken_state_file_exits_2_with_one_line(world: World, command: str, state: str) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    (world.backend / ".pulumi" / "stacks" / "web" / "prod.json").write_text(state)

    result = world.ardent_keys(*COMMANDS[command][:1], *cwd(web), *COMMANDS[command][1:])

    line = one_line_error(result, command)
    assert "pulumi stack export --stack prod" in line and "printed no" in line
    assert result.out == ""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unreachable_api_exits_2_with_one_line(world: World, command: str) -> None:
    web = world.project("web")
    # A port nothing listens on: the emulator's, once it is closed, would do; port 9 (discard) is closed here.
    web.add_stack("prod", world.config(**{"ardent:apiUrl": "http://127.0.0.1:9"}), [])

    result = world.ardent_keys(*COMMANDS[command][:1], *cwd(web), *COMMANDS[command][1:])

    line = one_line_error(result, command)
    assert "127.0.0.1:9" in line and "could not check" in line


def test_audit_of_the_environments_org_at_an_unreachable_api_exits_2_with_one_line(world: World) -> None:
    world.monkeypatch.setenv("ARDENT_API_URL", "http://127.0.0.1:9")
    world.monkeypatch.setenv("ARDENT_ORG_ID", world.org_id)
    world.monkeypatch.setenv("ARDENT_TOKEN", world.emulator.token)

    assert "could not check" in one_line_error(world.ardent_keys("audit"), "audit")


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("drift", "ardent_provider.cli.read_stacks"),
        ("revoke", "ardent_provider.cli.plan_revocations"),
        ("audit", "ardent_provider.cli.build_report"),
        ("policy-pack", "ardent_provider.policy.launcher.install_launcher"),
    ],
)
def test_an_internal_exception_in_any_command_exits_2_with_one_line_and_no_token(
    world: World, command: str, target: str
) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    token = world.emulator.token

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError(f"a bug near {token}\nand a second line")

    world.monkeypatch.setattr(target, broken)
    argv = [command] if command == "policy-pack" else [command, *cwd(web), *COMMANDS[command][1:]]
    result = world.ardent_keys(*argv)

    line = one_line_error(result, command)
    assert "stopped by an unexpected error (KeyError: 'a bug near [token not shown]); this is a bug" in line
    assert token not in result.out + result.err
    assert result.out == ""


def test_an_internal_exception_with_json_prints_an_error_object(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])
    world.monkeypatch.setattr("ardent_provider.cli.drift_findings", lambda *args, **kwargs: 1 / 0)

    result = world.ardent_keys("drift", *cwd(web), "--stack", "prod", "--json")

    assert one_line_error(result, "drift").startswith("ardent-keys drift: stopped by an unexpected error")
    assert "ZeroDivisionError: division by zero" in result.json()["error"]
