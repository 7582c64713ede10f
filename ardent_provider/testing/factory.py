"""StackFactory: stacks against one emulator on a private file backend, destroyed and checked at the end.

It is what the ``ardent_stack`` fixture hands out, and works without pytest too: call it to make stacks,
then :meth:`StackFactory.close` destroys them and reports every key they created that is still active.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from ..files import project_file
from ..settings import API_URL_CONFIG_KEY, ORG_CONFIG_KEY, ORGS_CONFIG_KEY, TOKEN_CONFIG_KEY, resolve_settings
from .emulator import ArdentEmulator, EmulatorError
from .mirror import ProjectMirror
from .offline import offline_environment
from .pulumi_bin import find_pulumi, pulumi_root
from .stack import ArdentStack

# Protects only the throwaway stacks of a test run; the backend lives in the test's temporary directory.
PASSPHRASE = "ardent-testing"  # noqa: S105
OUTPUT_TAIL_LINES = 30
# A segment of a config path that needs no quoting: `ardent:orgs.org_1.token`, not `ardent:orgs["a.b"].token`.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")

Program = Callable[[], None] | str | os.PathLike[str]


@dataclass(frozen=True)
class _Made:
    stack: ArdentStack
    automation: auto.Stack = field(repr=False)
    org_id: str
    token: str = field(repr=False)


class StackFactory:
    """``factory(program, *, stack="test", config=None)`` makes an :class:`ArdentStack` against ``emulator``.

    ``program`` is a Pulumi project directory (holding ``Pulumi.yaml``) or a function (an inline program,
    run in this process). The stack lives on a file backend under ``workdir`` and is configured with the
    emulator's ``ardent:apiUrl``, ``ardent:orgId`` and ``ardent:token`` (a secret); ``config`` adds or
    overrides values: a string, a JSON-able value, a :class:`pulumi.automation.ConfigValue` (for secrets), or
    ``None`` to leave a default key unset. Keys are config paths, as ``pulumi config set --path`` takes them.
    ``ardent:orgs`` (per-org credentials, such as ``{"ardent:orgs": {org_id: {"token": token}}}``), any key
    whose last path part is ``token`` and any structured value holding a ``token`` are always stored as
    secrets, a structured one leaf by leaf; secrets go to ``pulumi config set --secret --path`` on its stdin,
    never on a command line. A project directory is used through a mirror of symlinks, so the stack's
    settings file never lands in the project.

    At :meth:`close`, each org's keys are listed with the emulator's owner token for its own org, else with
    the stack's ``ardent:orgs.<org>.token``, else with its ``ardent:token``, as the provider chooses them.
    """

    def __init__(self, emulator: ArdentEmulator, workdir: Path, *, bin_dir: Path | None = None) -> None:
        self._emulator = emulator
        self._workdir = workdir
        self._bin_dir = bin_dir if bin_dir is not None else find_pulumi()
        self._backend = workdir / "backend"
        self._home = workdir / "pulumi-home"
        self._backend.mkdir(parents=True, exist_ok=True)
        self._home.mkdir(parents=True, exist_ok=True)
        self._made: dict[tuple[str, str], _Made] = {}

    @property
    def stacks(self) -> list[ArdentStack]:
        """Every stack made so far, in order."""
        return [made.stack for made in self._made.values()]

    def __call__(
        self, program: Program, *, stack: str = "test", config: Mapping[str, Any] | None = None
    ) -> ArdentStack:
        """Make (or select) ``stack`` for ``program``, configured against the emulator."""
        workspace, before_operation = self._workspace(program)
        project = str(workspace.project_settings().name)
        if (project, stack) in self._made:
            raise ValueError(
                f"ardent_stack already made stack {stack!r} of project {project!r} in this test; "
                "pass another stack= name for a second one."
            )
        automation = auto.Stack.create_or_select(stack, workspace)
        org_id, token = self._configure(automation, workspace, config or {})
        made = ArdentStack(automation, before_operation)
        self._made[(project, stack)] = _Made(made, automation, org_id, token)
        return made

    def close(self) -> list[str]:
        """Destroy every stack made, then check their keys; returns the problems found (empty when clean)."""
        problems: list[str] = []
        try:
            self._emulator.clear_faults()  # faults a test injected must not stop its own cleanup
        except EmulatorError as error:
            return [f"ardent_stack could not reach the emulator to clean up: {error}"]
        for made in self._made.values():
            if not made.stack.has_resources:
                continue
            try:
                made.stack.destroy()
            except Exception as error:  # reported, so the other stacks are still destroyed and checked
                problems.append(f"ardent_stack could not destroy stack {_label(made.stack)}:\n{_tail(error)}")
        for made in self._made.values():
            problems.extend(self._leaks(made))
        return problems

    # -- making workspaces -----------------------------------------------------------------------

    def _workspace(self, program: Program) -> tuple[auto.LocalWorkspace, Callable[[], None] | None]:
        if callable(program):
            project = _project_name(program)
            work_dir = self._fresh_dir(f"inline-{project}")
            workspace = auto.LocalWorkspace(
                work_dir=str(work_dir),
                pulumi_home=str(self._home),
                program=program,
                env_vars=self._env(inline=True),
                project_settings=auto.ProjectSettings(name=project, runtime="python"),
                pulumi_command=_pulumi_command(str(pulumi_root(self._bin_dir, self._workdir))),
            )
            return workspace, None
        source = Path(program)
        if not source.is_dir():
            raise FileNotFoundError(
                f"ardent_stack: {source} is not a directory. Pass a Pulumi project directory (the one holding "
                "Pulumi.yaml) or a function (an inline program)."
            )
        if project_file(source) is None:
            raise FileNotFoundError(
                f"ardent_stack: {source} holds no Pulumi.yaml. Pass the directory that holds the project's "
                "Pulumi.yaml, or a function (an inline program)."
            )
        mirror = ProjectMirror(source, self._fresh_dir(f"project-{source.name}"))
        workspace = auto.LocalWorkspace(
            work_dir=str(mirror.target),
            pulumi_home=str(self._home),
            env_vars=self._env(inline=False),
            pulumi_command=_pulumi_command(str(pulumi_root(self._bin_dir, self._workdir))),
        )
        return workspace, mirror.sync

    def _env(self, *, inline: bool) -> dict[str, str]:
        env = offline_environment(self._backend, PASSPHRASE, bin_dir=self._bin_dir)
        if inline:
            # The dynamic provider process must import this package: the interpreter running the test has it.
            env["PULUMI_PYTHON_CMD"] = sys.executable
        return env

    def _fresh_dir(self, name: str) -> Path:
        for number in range(1, 10_000):
            candidate = self._workdir / f"{name}-{number}"
            if not candidate.exists():
                candidate.mkdir(parents=True)
                return candidate
        raise RuntimeError(f"ardent_stack: too many working directories named {name}-* in {self._workdir}")

    # -- configuration ---------------------------------------------------------------------------

    def _configure(
        self, automation: auto.Stack, workspace: auto.LocalWorkspace, config: Mapping[str, Any]
    ) -> tuple[str, str]:
        values: dict[str, Any] = {
            API_URL_CONFIG_KEY: self._emulator.api_url,
            ORG_CONFIG_KEY: self._emulator.org_id,
            TOKEN_CONFIG_KEY: self._emulator.token,
            **config,
        }
        plain: dict[str, auto.ConfigValue] = {}
        secret: dict[str, str] = {}
        for key, value in values.items():
            if value is None:
                continue
            given_secret = isinstance(value, auto.ConfigValue) and bool(value.secret)
            value = _plain(value)
            if given_secret or is_secret_config(key, value):
                # A structured secret (such as ardent:orgs) is set leaf by leaf, each leaf a secret of its own,
                # as `pulumi config set --secret --path 'ardent:orgs.<org>.token'` would set it.
                secret.update(_leaves(key, value))
            else:
                plain[key] = auto.ConfigValue(value if isinstance(value, str) else json.dumps(value))
        if plain:
            automation.set_all_config(plain, path=True)
        for key, text in secret.items():
            self._set_secret(automation, workspace, key, text)
        org_id = str(_plain(values.get(ORG_CONFIG_KEY)) or self._emulator.org_id)
        token = str(_plain(values.get(TOKEN_CONFIG_KEY)) or self._emulator.token)
        return org_id, token

    def _set_secret(self, automation: auto.Stack, workspace: auto.LocalWorkspace, key: str, value: str) -> None:
        # Unlike the Automation API's set_config, this passes the value on stdin, never on a command line.
        env = {**os.environ, **workspace.env_vars, "PULUMI_HOME": str(self._home)}
        command = [str(self._bin_dir / "pulumi"), "config", "set", "--secret", "--path", "--stack", automation.name]
        result = subprocess.run(
            [*command, "--non-interactive", key],
            cwd=workspace.work_dir,
            env=env,
            input=value,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"ardent_stack could not set the secret config value {key!r} of stack {automation.name!r}: "
                f"{result.stderr.strip() or f'pulumi exited with code {result.returncode}'}"
            )

    # -- checking ----------------------------------------------------------------------------------

    def _leaks(self, made: _Made) -> list[str]:
        recorded = made.stack.recorded_keys
        if not recorded:
            return []
        problems: list[str] = []
        left: list[str] = []
        orgs = sorted({org or made.org_id for org in recorded.values()})
        try:
            tokens = self._org_tokens(made, orgs)
        except Exception as error:  # reported like any other problem of this stack's check
            return [f"ardent_stack could not read the config of stack {_label(made.stack)}:\n{_tail(error)}"]
        for org_id in orgs:
            try:
                active = {str(key.get("id")): key for key in self._emulator.keys_of(org_id, tokens[org_id])}
            except EmulatorError as error:
                problems.append(f"ardent_stack could not check the keys of stack {_label(made.stack)}: {error}")
                continue
            left.extend(
                f"{key_id} ({active[key_id].get('name')!r}) in org {org_id}"
                for key_id, org in sorted(recorded.items())
                if (org or made.org_id) == org_id and key_id in active
            )
        if left:
            problems.append(
                f"ardent_stack: stack {_label(made.stack)} left {len(left)} key(s) it created active after its "
                f"destroy: {', '.join(left)}. Every key a test makes must be revoked by its end; look for "
                "retain_on_delete, a resource removed from the state, or a destroy that failed."
            )
        return problems

    def _org_tokens(self, made: _Made, orgs: list[str]) -> dict[str, str]:
        """The token to list each org's keys with.

        The emulator's owner token for its own org (the kit holds it, whatever the stack was given); for any
        other org, the token the provider would take for it from the stack's config, read back from the stack
        so that entries set after it was made (through ``automation``) count too.
        """
        tokens = {org: self._emulator.token for org in orgs if org == self._emulator.org_id}
        others = [org for org in orgs if org not in tokens]
        if others:
            config = {key: _plain(value) for key, value in made.automation.get_all_config().items()}
            tokens.update({org: resolve_settings(config, environ={}, org_id=org).token.reveal() for org in others})
        return tokens


@functools.cache
def _pulumi_command(root: str) -> auto.PulumiCommand:
    """One ``PulumiCommand`` per CLI: making one runs ``pulumi version``."""
    return auto.PulumiCommand(root=root)


def _project_name(program: Callable[[], None]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", getattr(program, "__name__", "") or "").strip("-.")
    return name or "inline"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, auto.ConfigValue) else value


def is_secret_config(key: str, value: Any = None) -> bool:
    """Whether a config value must be stored as a secret even when not given as one.

    ``ardent:orgs`` (and any path under it), any key whose last path part is ``token`` in any namespace
    (``ardent:token``, ``ardent:orgs.org_1.token``, ``myproj:db.token``), and a structured value holding a
    ``token`` anywhere.
    """
    parts = _path_parts(key)
    if parts[0] == ORGS_CONFIG_KEY or parts[-1].rsplit(":", 1)[-1].lower() == "token":
        return True
    return any(path[-1].lower() == "token" for path, _ in _walk(value, []) if path and isinstance(path[-1], str))


def _path_parts(key: str) -> list[str]:
    """The parts of a config path: ``'ardent:orgs.org_1.token'`` is ``['ardent:orgs', 'org_1', 'token']``."""
    return [part.strip('"') for part in re.split(r"[.\[\]]", key) if part] or [key]


def _walk(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    """Every leaf of a JSON-able value with its path below the value."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _walk(item, [*path, str(name)])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])
    else:
        yield path, value


def _leaves(key: str, value: Any) -> dict[str, str]:
    """A value as ``pulumi config set --path`` paths and texts: itself for a scalar, one per leaf for a map."""
    leaves: dict[str, str] = {}
    for path, leaf in _walk(value, []):
        full = key
        for part in path:
            if isinstance(part, int):
                full += f"[{part}]"
            elif _PLAIN_SEGMENT.fullmatch(part):
                full += f".{part}"
            else:
                full += f"[{json.dumps(part)}]"
        leaves[full] = leaf if isinstance(leaf, str) else json.dumps(leaf)
    return leaves


def _label(stack: ArdentStack) -> str:
    return f"{stack.project}/{stack.name}"


def _tail(error: BaseException) -> str:
    return "\n".join(str(error).strip().splitlines()[-OUTPUT_TAIL_LINES:])
