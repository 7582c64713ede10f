"""Reading Pulumi projects and stacks through the user's own ``pulumi``: names, stacks, state and config.

Every stack is read with ``pulumi stack export`` and ``pulumi config --show-secrets --json``, so whatever backend
and secrets provider the user is logged in to apply, and no Pulumi program runs. A stack whose program declares
explicit ``ardent`` providers is exported once more with ``--show-secrets``: the stack's secrets provider
decrypts those providers' settings (their tokens), which are kept in memory and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ArdentConfigurationError, ArdentError
from ..files import project_file
from ..models import SecretToken
from ..pulumi_version import MIN_CLI_VERSION, cli_too_old
from ..resource_types import NATIVE_PROVIDER_TYPE, is_default_provider, is_key_type
from ..settings import (
    API_URL_CONFIG_KEY,
    CONFIG_NAMESPACE,
    ORG_CONFIG_KEY,
    ORGS_CONFIG_KEY,
    TOKEN_CONFIG_KEY,
    Settings,
    configured_tokens,
    org_entries,
    resolve_settings,
)
from ..state import SinkSpec, snake_properties

PENDING_REVOKE = "pending-revoke"
# A resource an interrupted replacement left marked for deletion: its key is still the stack's until it goes.
PENDING_DELETE = "pending-delete"
# Each stack costs two pulumi processes; a few at a time is plenty on a runner.
MAX_PARALLEL_READS = 4
# How an exported state marks a secret: {SECRET_SIGNATURE: ..., "ciphertext": ...}, or "plaintext" (a JSON text)
# once `pulumi stack export --show-secrets` has decrypted it.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's marker, not a secret
# A provider resource's settings by their stack config names; other inputs (version, ...) are the engine's.
PROVIDER_SETTINGS: Mapping[str, str] = MappingProxyType(
    {"token": TOKEN_CONFIG_KEY, "orgId": ORG_CONFIG_KEY, "apiUrl": API_URL_CONFIG_KEY, "orgs": ORGS_CONFIG_KEY}
)


class CheckError(Exception):
    """The check could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory and the name its ``Pulumi.yaml`` gives."""

    name: str
    directory: Path


@dataclass(frozen=True)
class StackRef:
    """A stack of a project, named as ``pulumi --stack`` should be given it."""

    project: Project
    name: str

    @property
    def stack(self) -> str:
        """The stack's own name, without organization and project."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def label(self) -> str:
        """``project/stack``, unique among the stacks of one run."""
        return f"{self.project.name}/{self.stack}"


@dataclass(frozen=True)
class ManagedKey:
    """A key that a stack's state says it manages, and the org it lives in ("" until known).

    ``pending_replacement``: its resource is marked ``pendingReplacement`` (an interrupted delete-before-replace
    deleted it and never created the replacement); a destroy would drop it without asking the provider.
    """

    stack: str
    resource: str
    key_id: str
    name: str | None
    kind: str
    project: str = ""
    org_id: str = ""
    scopes: tuple[str, ...] | None = None
    expires_at: str | None = None
    role: str | None = None
    provider: str = ""
    pending_replacement: bool = False
    sink: SinkSpec | None = None
    """The secret that holds the current key's token, if it has a sink, and its version holding it."""
    sink_version_id: str | None = None

    @property
    def label(self) -> str:
        """``project/stack`` of the managing stack."""
        return f"{self.project}/{self.stack}" if self.project else self.stack


@dataclass(frozen=True)
class ProviderConfig:
    """An explicit ``pulumi:providers:ardent`` resource of a stack, and the settings its state records.

    ``config`` holds them under the stack config names (``ardent:token``, ``ardent:orgId``, ``ardent:apiUrl``,
    ``ardent:orgs``), secrets decrypted, so it stays out of ``repr``. ``problem`` says why the settings could not
    all be read ("" when they could); ``config`` then holds only those that could.
    """

    resource: str
    config: Mapping[str, object] = field(default_factory=dict, repr=False)
    problem: str = ""

    @property
    def org_id(self) -> str:
        """The provider's own org (``orgId``), "" when the provider takes it from the environment."""
        value = self.config.get(ORG_CONFIG_KEY)
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class PendingOperation:
    """An operation on a key that an interrupted run left unfinished (``pending_operations`` in the state).

    ``key_id`` is None for a create whose answer never reached the state; ``name`` is the key's name as the
    resource's inputs give it (None when they do not). ``kind`` is the engine's word: ``creating``,
    ``updating``, ``deleting``, ``reading``.
    """

    project: str
    stack: str
    resource: str
    kind: str
    key_id: str | None
    org_id: str = ""
    name: str | None = None
    provider: str = ""

    @property
    def label(self) -> str:
        """``project/stack`` of the stack holding the operation."""
        return f"{self.project}/{self.stack}" if self.project else self.stack


@dataclass(frozen=True)
class StackView:
    """What one stack says: its default settings, the keys its state records, and its ``ardent:`` config.

    ``config`` holds decrypted secrets, so it stays out of ``repr``.
    """

    ref: StackRef
    settings: Settings
    managed: tuple[ManagedKey, ...]
    config: Mapping[str, object] = field(default_factory=dict, repr=False)
    pending: tuple[PendingOperation, ...] = ()
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict, repr=False)

    @property
    def orgs(self) -> list[str]:
        """The orgs this stack uses: its default org and every org its keys live in, each once."""
        return list(dict.fromkeys([self.settings.org_id, *(item.org_id for item in self.managed if item.org_id)]))

    def uses(self, org_id: str) -> bool:
        """Whether the stack's default org is ``org_id`` or one of its keys lives there."""
        return org_id in self.orgs

    def settings_for(self, org_id: str) -> Settings:
        """The settings the provider would take for ``org_id`` in this stack."""
        if org_id == self.settings.org_id:
            return self.settings
        return resolve_settings(self.config, org_id=org_id)

    def token_setting(self, org_id: str) -> str:
        """Where this stack's token for ``org_id`` comes from, as a user would set it."""
        if org_entries(self.config.get(ORGS_CONFIG_KEY)).get(org_id, {}).get("token"):
            return f"`pulumi config set --secret --path '{ORGS_CONFIG_KEY}.{org_id}.token' <token>`"
        if self.config.get(TOKEN_CONFIG_KEY):
            return f"`pulumi config set --secret {TOKEN_CONFIG_KEY} <token>`"
        return "the ARDENT_TOKEN environment variable"

    def sources(self) -> list[CredentialSource]:
        """The stack's credentials: its default provider's (stack config), then each explicit provider's."""
        return [CredentialSource(self), *(CredentialSource(self, name) for name in sorted(self.providers))]


@dataclass(frozen=True)
class CredentialSource:
    """One provider of a stack, as the credentials it runs with: the default (``provider`` "") or an explicit one."""

    view: StackView
    provider: str = ""

    @property
    def ref(self) -> StackRef:
        """The stack."""
        return self.view.ref

    @property
    def label(self) -> str:
        """``project/stack``, with ``(provider resource NAME)`` for an explicit provider."""
        return provider_label(self.view.ref.label, self.provider)

    def uses(self, org_id: str) -> bool:
        """Whether this provider works in ``org_id``: its default org (the default provider), or a key's org."""
        if not self.provider and org_id == self.view.settings.org_id:
            return True
        items: Iterable[ManagedKey | PendingOperation] = (*self.view.managed, *self.view.pending)
        return any(item.org_id == org_id and item.provider == self.provider for item in items)

    @property
    def problem(self) -> str:
        """Why this explicit provider's recorded settings could not be read ("" when they could)."""
        return self.view.providers[self.provider].problem if self.provider else ""

    def settings_for(self, org_id: str) -> Settings:
        """The settings this provider would take for ``org_id`` (its ``orgs`` entry, else its default token).

        A provider whose settings could not be read raises :class:`ArdentConfigurationError` saying why.
        """
        if not self.provider:
            return self.view.settings_for(org_id)
        if self.problem:
            raise ArdentConfigurationError(self.problem)
        return resolve_settings(self.view.providers[self.provider].config, org_id=org_id)

    def tokens(self) -> list[SecretToken]:
        """Every token this provider holds (its own and its ``orgs`` entries'), and the one it falls back on.

        The fallback is its default settings' token, which, when its config sets none, is ``ARDENT_TOKEN`` from
        the environment of this ``ardent-keys`` process (as the provider would take it from the environment of
        the ``pulumi`` that runs it).
        """
        config = self.view.providers[self.provider].config if self.provider else self.view.config
        found = configured_tokens(config)
        with contextlib.suppress(ArdentError):  # no usable default settings: the tokens it holds are all it has
            found.append(resolve_settings(config).token)
        return list(dict.fromkeys(found))

    def token_setting(self, org_id: str) -> str:
        """Where this provider's token for ``org_id`` is set, as a user would change it."""
        if not self.provider:
            return self.view.token_setting(org_id)
        config = self.view.providers[self.provider].config
        where = f"provider resource {self.provider} in the program of stack {self.view.ref.label}"
        if org_entries(config.get(ORGS_CONFIG_KEY)).get(org_id, {}).get("token"):
            field_name = f"`orgs.{org_id}.token` input"
        elif config.get(TOKEN_CONFIG_KEY):
            field_name = "`token` input"
        else:
            return f"the `token` input of {where} (it has none, so it runs with ARDENT_TOKEN), then `pulumi up` there"
        return f"the {field_name} of {where} (give it as a secret), then `pulumi up` there so that the state records it"


def provider_label(stack_label: str, provider: str) -> str:
    """How a report names the credentials of a stack's provider: the stack alone for its default provider."""
    return f"{stack_label} (provider resource {provider})" if provider else stack_label


def run_pulumi(args: Sequence[str], cwd: Path) -> str:
    """Run the user's ``pulumi`` with their environment; raise :class:`CheckError` on failure."""
    try:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError:
        raise CheckError("the pulumi CLI is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise CheckError(f"`pulumi {' '.join(args)}` in {cwd} did not finish within 300 s") from None
    except OSError as error:
        # A pulumi on PATH that is not executable, or not a program at all (a broken download, a text file).
        raise CheckError(
            f"the pulumi CLI on PATH could not be run ({error.strerror or error}); check that `pulumi` on PATH is "
            "the Pulumi CLI and executable (`ls -l $(command -v pulumi)`)"
        ) from None
    if result.returncode != 0:
        # Only stderr: stdout may hold what was asked for, such as `config --show-secrets`' decrypted secrets.
        reason = result.stderr.strip().splitlines()
        said = reason[-1] if reason else f"exit code {result.returncode}, nothing on stderr"
        raise CheckError(f"`pulumi {' '.join(args)}` in {cwd} failed: {said}")
    return result.stdout


def project_name(directory: Path) -> str:
    """The ``name`` of the project whose ``Pulumi.yaml`` (or ``.yml`` / ``.json``) lies in ``directory``."""
    path = project_file(directory)
    if path is None:
        raise CheckError(f"{directory} holds no Pulumi.yaml; give the Pulumi project directory with --cwd")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise CheckError(f"{path} is not valid JSON ({error}), so its project cannot be named") from None
        name = document.get("name") if isinstance(document, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip()
        raise CheckError(f"{path} has no top-level `name`, so its project cannot be named")
    for line in text.splitlines():
        # Only an unindented `name:` is the project's; indented ones belong to nested maps.
        match = re.match(r"name\s*:\s*(.*)$", line)
        if match:
            value = re.sub(r"\s+#.*$", "", match.group(1)).strip().strip("\"'")
            if value:
                return value
    raise CheckError(f"{path} has no top-level `name:`, so its project cannot be named")


def load_projects(directories: Iterable[str]) -> list[Project]:
    """The projects of the ``--cwd`` directories, each once; two directories of one project are refused."""
    projects: list[Project] = []
    for raw in directories:
        directory = Path(raw).expanduser().resolve()
        if not directory.is_dir():
            raise CheckError(f"--cwd {raw}: no such directory")
        if any(project.directory == directory for project in projects):
            continue
        project = Project(project_name(directory), directory)
        twin = next((known for known in projects if known.name == project.name), None)
        if twin is not None:
            raise CheckError(
                f"{twin.directory} and {directory} are both project {project.name}; give one of them with --cwd"
            )
        projects.append(project)
    return projects


def resolve_targets(
    projects: Sequence[Project],
    stacks: Sequence[str],
    all_stacks: bool,
    list_stacks: Callable[[Project], list[str]],
) -> list[StackRef]:
    """The stacks a run reads: the ``--stack`` arguments placed in their projects, or every stack of each.

    ``--stack org/project/stack`` picks the project by name; a bare ``--stack NAME`` needs exactly one project.
    """
    refs: list[StackRef] = []
    if all_stacks:
        for project in projects:
            names = list_stacks(project)
            if not names:
                raise CheckError(f"project {project.name} in {project.directory} has no stacks")
            refs.extend(StackRef(project, name) for name in names)
    for value in stacks:
        refs.append(StackRef(_project_for(value, projects), value))
    unique: list[StackRef] = []
    for ref in refs:
        if all((ref.project, ref.stack) != (known.project, known.stack) for known in unique):
            unique.append(ref)
    return unique


def _project_for(value: str, projects: Sequence[Project]) -> Project:
    parts = value.split("/")
    if not all(parts) or len(parts) > 3:
        raise CheckError(f"--stack {value!r} is not a stack name; write NAME or org/project/stack")
    if len(parts) == 3:
        for project in projects:
            if project.name == parts[1]:
                return project
        known = ", ".join(f"{project.name} ({project.directory})" for project in projects)
        raise CheckError(
            f"--stack {value}: no --cwd directory holds project {parts[1]} (given: {known}); add --cwd "
            f"<the directory of {parts[1]}>"
        )
    if len(projects) > 1:
        names = ", ".join(project.name for project in projects)
        raise CheckError(
            f"--stack {value} is ambiguous with several projects ({names}); write org/project/stack, for "
            f"example organization/{projects[0].name}/{value}, or use --all-stacks"
        )
    return projects[0]


def list_project_stacks(project: Project) -> list[str]:
    """The names of the project's stacks, as ``pulumi stack ls --json`` gives them."""
    listing = json.loads(run_pulumi(["stack", "ls", "--json"], project.directory) or "[]")
    return [str(item["name"]) for item in listing if isinstance(item, dict) and item.get("name")]


def exported_state(name: str, directory: Path, *, show_secrets: bool = False) -> object:
    """What ``pulumi stack export --stack NAME`` prints in ``directory``, parsed (secrets stay encrypted).

    ``show_secrets`` has the stack's secrets provider decrypt them: the result must never be printed.
    """
    flags = ["--show-secrets"] if show_secrets else []
    return json.loads(run_pulumi(["stack", "export", "--stack", name, *flags], directory) or "null")


def stack_providers(ref: StackRef, names: Collection[str]) -> dict[str, ProviderConfig]:
    """The settings of the stack's explicit providers ``names``, decrypted by the stack's secrets provider.

    A provider whose settings cannot be read (the state cannot be decrypted, a setting is still encrypted, the
    state records no such provider) is returned with a ``problem`` saying why and what to do, so that only the
    orgs it works in go unread.
    """
    command = f"`pulumi stack export --stack {ref.name} --show-secrets` in {ref.project.directory}"
    try:
        document = exported_state(ref.name, ref.project.directory, show_secrets=True)
    except ValueError as error:
        document, failure = None, f"{command} printed no JSON ({error})"
    except CheckError as error:
        document, failure = None, str(error)
    else:
        failure = "" if isinstance(document, dict) else f"{command} printed no state"
    if not isinstance(document, dict):
        reason = (
            f"its settings could not be decrypted: {failure}; check that this shell can decrypt the stack's secrets"
        )
        return {
            name: ProviderConfig(name, problem=f"provider resource {name} of stack {ref.label}: {reason}")
            for name in names
        }
    found = providers_in_deployment(document)
    providers: dict[str, ProviderConfig] = {}
    for name in names:
        if name not in found:
            reason = "the stack's keys name it, but its state records no such provider; run `pulumi refresh` there"
            providers[name] = ProviderConfig(name, problem=f"provider resource {name} of stack {ref.label}: {reason}")
        elif found[name].problem:
            reason = f"{found[name].problem}; run `pulumi up` there so that the state records its settings again"
            providers[name] = replace(found[name], problem=f"stack {ref.label}: {reason}")
        else:
            providers[name] = found[name]
    return providers


def export_stack(ref: StackRef) -> dict[str, Any]:
    """A given stack's state; one that is not a stack's state (not a JSON object, odd sections) stops the check."""
    try:
        document = exported_state(ref.name, ref.project.directory)
    except ValueError as error:
        raise CheckError(
            f"`pulumi stack export --stack {ref.name}` in {ref.project.directory} printed no JSON ({error})"
        ) from None
    problem = state_problem(document)
    if problem is not None or not isinstance(document, dict):
        # Read as it is, such a state would pass for a stack without keys, and its keys would go unchecked.
        raise CheckError(
            f"`pulumi stack export --stack {ref.name}` in {ref.project.directory} printed no state that can be read: "
            f"{problem or 'not a JSON object'}"
        )
    return document


def _resources(deployment: Mapping[str, Any], section: str) -> list[Any]:
    body = deployment.get("deployment")
    found = body.get(section) if isinstance(body, dict) else None
    return found if isinstance(found, list) else []


def _mapping(value: object) -> Mapping[str, Any]:
    """A resource's recorded properties with this package's names, whichever resource type wrote them."""
    return snake_properties(value) if isinstance(value, dict) else {}


def state_problem(document: object) -> str | None:
    """Why a ``pulumi stack export`` document cannot be read as a stack's state; None when it can."""
    if not isinstance(document, dict):
        return "its state is not a JSON object"
    body = document.get("deployment")
    if not isinstance(body, dict):
        return "its state holds no deployment"
    for section in ("resources", "pending_operations"):
        if body.get(section) is not None and not isinstance(body.get(section), list):
            return f"its state's {section} is not a list"
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _explicit_provider(resource: Mapping[str, Any]) -> str:
    """The name of the explicit ``ardent`` provider a resource names (``provider``: ``urn::id``).

    "" for the default provider or another package's provider.
    """
    reference = _text(resource.get("provider")) or ""
    parts = reference.split("::")
    if len(parts) < 5 or parts[2].rsplit("$", 1)[-1] != NATIVE_PROVIDER_TYPE:
        return ""
    name = "::".join(parts[3:-1])
    return "" if is_default_provider(name) else name


def _revealed(value: object, where: str) -> object:
    """A recorded property with the secrets ``--show-secrets`` decrypted unwrapped; still encrypted ones refused."""
    if isinstance(value, dict) and SECRET_SIGNATURE in value:
        if "plaintext" not in value:
            raise CheckError(f"{where} is still encrypted in the exported state")
        try:
            return _revealed(json.loads(str(value["plaintext"])), where)
        except ValueError:
            raise CheckError(f"{where} is not a readable secret in the exported state") from None
    if isinstance(value, dict):
        return {key: _revealed(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_revealed(item, where) for item in value]
    return value


def providers_in_deployment(deployment: Mapping[str, Any], *, defaults: bool = False) -> dict[str, ProviderConfig]:
    """The ``ardent`` provider resources of a ``pulumi stack export --show-secrets`` document, by name.

    Explicit providers only, unless ``defaults``: the default provider's recorded settings are those of the stack
    config at the last update. A provider replaced by an interrupted run (``delete``) is left out. A setting
    that is still encrypted (or not a readable secret) is left out and named in the provider's ``problem``.
    """
    found: dict[str, ProviderConfig] = {}
    for resource in _resources(deployment, "resources"):
        if not isinstance(resource, dict) or resource.get("type") != NATIVE_PROVIDER_TYPE or resource.get("delete"):
            continue
        name = str(resource.get("urn", "")).split("::", 3)[-1]
        if is_default_provider(name) and not defaults:
            continue
        recorded = resource.get("outputs") or resource.get("inputs")
        properties = recorded if isinstance(recorded, dict) else {}
        config: dict[str, object] = {}
        problems: list[str] = []
        for key, value in properties.items():
            if key not in PROVIDER_SETTINGS or value in (None, ""):
                continue
            try:
                config[PROVIDER_SETTINGS[key]] = _revealed(value, f"the `{key}` of provider resource {name}")
            except CheckError as error:
                problems.append(str(error))
        found[name] = ProviderConfig(name, config, "; ".join(problems))
    return found


def has_ardent_provider(deployment: Mapping[str, Any]) -> bool:
    """Whether a state records an ``ardent`` provider resource (the default one or an explicit one)."""
    return any(
        isinstance(resource, dict) and resource.get("type") == NATIVE_PROVIDER_TYPE
        for resource in _resources(deployment, "resources")
    )


def keys_in_deployment(deployment: Mapping[str, Any], stack: str, project: str = "") -> list[ManagedKey]:
    """The keys recorded in a ``pulumi stack export`` document."""
    found: list[ManagedKey] = []
    for resource in _resources(deployment, "resources"):
        if not isinstance(resource, dict) or not is_key_type(str(resource.get("type", ""))):
            continue
        outputs = _mapping(resource.get("outputs"))
        name = str(resource.get("urn", "")).rsplit("::", 1)[-1]
        provider = _explicit_provider(resource)
        if resource.get("delete"):
            # Replaced, but the deletion never ran: only its current key is still in the stack's keeping.
            deleting = _text(resource.get("id")) or _text(outputs.get("key_id"))
            if deleting:
                org = _text(outputs.get("org_id")) or ""
                found.append(ManagedKey(stack, name, deleting, None, PENDING_DELETE, project, org, provider=provider))
            continue
        # A resource's kept previous and pending keys live in its org; state of older releases names none.
        org = _text(outputs.get("org_id")) or ""
        replacing = resource.get("pendingReplacement") is True
        key_id = _text(resource.get("id")) or _text(outputs.get("key_id"))
        if key_id:
            scopes = outputs.get("scopes")
            recorded_scopes = tuple(str(item) for item in scopes) if isinstance(scopes, list) else None
            found.append(
                ManagedKey(
                    stack,
                    name,
                    key_id,
                    _text(outputs.get("name")),
                    "current",
                    project,
                    org,
                    recorded_scopes,
                    _text(outputs.get("expires_at")),
                    _text(outputs.get("role")),
                    provider,
                    replacing,
                    SinkSpec.from_input(outputs.get("sink")),
                    _text(outputs.get("sink_version_id")),
                )
            )
        previous = _text(outputs.get("previous_key_id"))
        if previous:
            found.append(
                ManagedKey(
                    stack,
                    name,
                    previous,
                    None,
                    "previous",
                    project,
                    org,
                    provider=provider,
                    pending_replacement=replacing,
                )
            )
        pending = outputs.get("pending_revoke_key_ids")
        for old_id in pending if isinstance(pending, list) else []:
            if _text(old_id):
                found.append(
                    ManagedKey(
                        stack,
                        name,
                        old_id,
                        None,
                        PENDING_REVOKE,
                        project,
                        org,
                        provider=provider,
                        pending_replacement=replacing,
                    )
                )
    return found


def pending_in_deployment(deployment: Mapping[str, Any], stack: str, project: str = "") -> list[PendingOperation]:
    """The operations on keys that an interrupted run left pending in a ``pulumi stack export`` document."""
    found: list[PendingOperation] = []
    for operation in _resources(deployment, "pending_operations"):
        resource = operation.get("resource") if isinstance(operation, dict) else None
        if not isinstance(resource, dict) or not is_key_type(str(resource.get("type", ""))):
            continue
        outputs = _mapping(resource.get("outputs"))
        inputs = _mapping(resource.get("inputs"))
        found.append(
            PendingOperation(
                project=project,
                stack=stack,
                resource=str(resource.get("urn", "")).rsplit("::", 1)[-1],
                kind=str(operation.get("type") or "unknown"),
                key_id=_text(resource.get("id")) or _text(outputs.get("key_id")),
                org_id=_text(outputs.get("org_id")) or _text(inputs.get("org_id")) or "",
                provider=_explicit_provider(resource),
                name=_text(outputs.get("name")) or _text(inputs.get("name")),
            )
        )
    return found


def stack_config(ref: StackRef) -> dict[str, object]:
    """The stack's ``ardent:`` config, secrets decrypted (``ardent:orgs`` as the CLI prints it: JSON text)."""
    output = run_pulumi(["config", "--stack", ref.name, "--show-secrets", "--json"], ref.project.directory)
    config = json.loads(output or "{}")
    return {
        key: entry.get("value")
        for key, entry in config.items()
        if isinstance(entry, dict) and key.split(":", 1)[0] == CONFIG_NAMESPACE
    }


def read_stack(ref: StackRef) -> StackView:
    """One stack's default settings, the keys its state records, and their explicit providers' settings.

    The default settings come from the stack's config first, then the environment. A key whose state names no
    org (written by an older release) lives in its provider's default org.
    """
    config = stack_config(ref)
    try:
        settings = resolve_settings(config)
    except ArdentError as error:
        raise CheckError(f"stack {ref.label}: {error}") from None
    deployment = export_stack(ref)
    keys = keys_in_deployment(deployment, ref.stack, ref.project.name)
    operations = pending_in_deployment(deployment, ref.stack, ref.project.name)
    explicit = sorted(
        {item.provider for item in keys if item.provider} | {op.provider for op in operations if op.provider}
    )
    providers = stack_providers(ref, explicit) if explicit else {}

    def home(provider: str) -> str:
        return (providers[provider].org_id if provider else "") or settings.org_id

    managed = tuple(item if item.org_id else replace(item, org_id=home(item.provider)) for item in keys)
    pending = tuple(item if item.org_id else replace(item, org_id=home(item.provider)) for item in operations)
    return StackView(ref, settings, managed, config, pending, providers)


def read_stacks(args: argparse.Namespace) -> list[StackView]:
    """Resolve ``--cwd``/``--stack``/``--all-stacks`` and read every stack, a few at a time, in the given order.

    A Pulumi CLI older than the package needs is refused first, naming the minimum.
    """
    too_old = cli_too_old(MIN_CLI_VERSION, "ardent-provider")
    if too_old:
        raise CheckError(too_old)
    projects = load_projects(args.cwd or ["."])
    refs = resolve_targets(projects, args.stack or [], args.all_stacks, list_project_stacks)
    if not refs:
        raise CheckError("no stack to read; give --stack NAME or --all-stacks")
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(refs))) as pool:
        # map() hands back results, and raises the first failure, in the order of the stacks given.
        return list(pool.map(read_stack, refs))


# -- every stack of the backend -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendKeys:
    """What every stack of the current backend manages or has pending, and the stacks that could not be read.

    ``unreadable`` maps a stack's label to why it could not be read. A pending operation's ``org_id`` is ""
    when its state names none (the stack's config, which would say, is not read here). ``credentials`` are the
    tokens its ``ardent`` providers run with, labelled as :func:`provider_label` does.
    """

    managed: tuple[ManagedKey, ...]
    stacks: tuple[str, ...]
    unreadable: Mapping[str, str]
    pending: tuple[PendingOperation, ...] = ()
    credentials: tuple[tuple[str, SecretToken], ...] = field(default=(), repr=False)

    def managers_of(self, key_id: str) -> list[ManagedKey]:
        """The stacks' records of ``key_id``, in stack order."""
        return [item for item in self.managed if item.key_id == key_id]


def backend_stack_names(directory: Path) -> list[str]:
    """Every stack of the backend ``directory``'s project is logged in to, fully qualified when the CLI says so.

    The same listing as ``pulumi stack ls --all``: every project's stacks, not only this project's.
    """
    listing = json.loads(run_pulumi(["stack", "ls", "--all", "--json"], directory) or "[]")
    if not isinstance(listing, list):
        raise CheckError(f"`pulumi stack ls --all --json` in {directory} printed no list of stacks")
    return [str(item["name"]) for item in listing if isinstance(item, dict) and item.get("name")]


def _backend_label(name: str, home: Project) -> tuple[str, str]:
    """(project, stack) of a name from ``stack ls --all``: ``org/project/stack`` or a bare name of ``home``."""
    parts = name.split("/")
    if len(parts) == 3:
        return parts[1], parts[2]
    return home.name, parts[-1]


def provider_tokens(document: Mapping[str, Any], label: str) -> list[tuple[str, SecretToken]]:
    """The tokens every ``ardent`` provider of a ``--show-secrets`` export holds, labelled by stack and provider."""
    found: list[tuple[str, SecretToken]] = []
    for name, provider in providers_in_deployment(document, defaults=True).items():
        source = provider_label(label, "" if is_default_provider(name) else name)
        if provider.problem:
            raise CheckError(provider.problem)
        found.extend((source, token) for token in configured_tokens(provider.config))
    return found


def read_backend_keys(home: Project, already_read: Collection[str] = ()) -> BackendKeys:
    """The keys that every stack of ``home``'s backend records or has pending, a few at a time; no config is read.

    A stack whose state records ``ardent`` providers (the native provider's default one or explicit ones) is
    exported again with ``--show-secrets``, so that the tokens those providers run with are known (never printed).
    Stacks whose ``project/stack`` label is in ``already_read`` (read through another project of the same
    backend) are skipped. A stack whose state cannot be read is named with the reason instead of failing the
    whole read: a caller that must not touch another stack's key treats it as possibly managing any key.
    """
    names = [
        name for name in backend_stack_names(home.directory) if "/".join(_backend_label(name, home)) not in already_read
    ]

    def read(
        name: str,
    ) -> tuple[str, tuple[list[ManagedKey], list[PendingOperation], list[tuple[str, SecretToken]]] | str]:
        project, stack = _backend_label(name, home)
        label = f"{project}/{stack}"
        try:
            document = exported_state(name, home.directory)
        except (CheckError, ValueError) as error:
            return label, str(error)
        problem = state_problem(document)
        if problem is not None or not isinstance(document, dict):
            return label, problem or "its state is not a JSON object"
        tokens: list[tuple[str, SecretToken]] = []
        if has_ardent_provider(document):
            try:
                revealed = exported_state(name, home.directory, show_secrets=True)
                tokens = provider_tokens(revealed if isinstance(revealed, dict) else {}, label)
            except (CheckError, ValueError) as error:
                return label, f"the tokens its ardent providers run with could not be decrypted ({error})"
        return label, (
            keys_in_deployment(document, stack, project),
            pending_in_deployment(document, stack, project),
            tokens,
        )

    managed: list[ManagedKey] = []
    pending: list[PendingOperation] = []
    credentials: list[tuple[str, SecretToken]] = []
    unreadable: dict[str, str] = {}
    labels: list[str] = []
    if names:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(names))) as pool:
            for label, result in pool.map(read, names):
                labels.append(label)
                if isinstance(result, str):
                    unreadable[label] = result
                else:
                    managed.extend(result[0])
                    pending.extend(result[1])
                    credentials.extend(result[2])
    return BackendKeys(tuple(managed), tuple(labels), unreadable, tuple(pending), tuple(credentials))
