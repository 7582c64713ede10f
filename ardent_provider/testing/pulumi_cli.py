"""Running the real Pulumi CLI offline: a local file backend, a passphrase, a private PULUMI_HOME.

The project's own tests, its demo and its benchmark drive the CLI through :class:`PulumiCLI`; the testing
kit's ``ardent_stack`` uses the same offline environment (:mod:`.offline`) through the Automation API.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .offline import offline_environment

BIN_DIR_VARIABLE = "ARDENT_PULUMI_BIN_DIR"


class PulumiCommandError(RuntimeError):
    """A Pulumi command exited non-zero; carries its output for the report."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        super().__init__(f"`pulumi {' '.join(args)}` exited with {result.returncode}:\n{tail}")


@dataclass
class PulumiCLI:
    """One Pulumi project driven through the CLI, its state kept under ``state_dir``."""

    project_dir: Path
    state_dir: Path
    passphrase: str
    bin_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.state_dir / "backend").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "home").mkdir(parents=True, exist_ok=True)
        if self.bin_dir is None and os.environ.get(BIN_DIR_VARIABLE):
            self.bin_dir = Path(os.environ[BIN_DIR_VARIABLE])

    @property
    def backend_dir(self) -> Path:
        """Where the file backend keeps stacks."""
        return self.state_dir / "backend"

    def env(self) -> dict[str, str]:
        """The environment every command runs with: offline and private.

        The project's ``Pulumi.yaml`` (``runtime.options.virtualenv``) picks the interpreter, as for any user
        project; an inherited ``PULUMI_PYTHON_CMD`` is dropped so it cannot decide instead. ``extra_env``
        may still set it on purpose.
        """
        env = dict(os.environ)
        env.pop("PULUMI_PYTHON_CMD", None)
        env.pop("PULUMI_ACCESS_TOKEN", None)
        env.update(
            offline_environment(self.backend_dir, self.passphrase, bin_dir=self.bin_dir, home=self.state_dir / "home")
        )
        env.update(self.extra_env)
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi ARGS`` in the project directory and capture its output."""
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project_dir,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise PulumiCommandError(args, result)
        return result

    def select_stack(self, stack: str) -> None:
        """Select ``stack``, creating it when it does not exist yet."""
        if self.run("stack", "select", stack, check=False).returncode != 0:
            self.run("stack", "init", stack)

    def set_config(self, key: str, value: str, *, secret: bool = False) -> None:
        """Set a config value; a secret travels on stdin, never on the command line."""
        if secret:
            self.run("config", "set", "--secret", key, stdin=value)
        else:
            self.run("config", "set", key, value)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's outputs as JSON (secrets as ``[secret]`` unless ``show_secrets``)."""
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        data = json.loads(self.run(*args).stdout or "{}")
        return data if isinstance(data, dict) else {}

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's deployment, as ``pulumi stack export`` prints it."""
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        data = json.loads(self.run(*args).stdout)
        return data if isinstance(data, dict) else {}

    def state_file(self, project: str, stack: str) -> Path:
        """The file backend's raw state file for a stack."""
        return self.backend_dir / ".pulumi" / "stacks" / project / f"{stack}.json"
