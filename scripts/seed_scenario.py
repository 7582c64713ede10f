"""The seed scenario, run with an interpreter that has the package installed (a support-matrix cell's).

A project outside the checkout whose ``virtualenv`` is this interpreter's declares the seed key
(``Production-Test``, role Admin) and exports its token; the provided Pulumi CLI runs ``up``, ``refresh``,
``preview --expect-no-changes`` and ``destroy`` against an emulator started here. Each step is checked against
the emulator's own list of keys. Exit code 0 when every check holds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import ardent_provider
from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI

PROGRAM = """\
import pulumi
from ardent_provider import ArdentApiKey

key = ArdentApiKey("Production-Test", role="Admin")
pulumi.export("production_test_token", key.token)
pulumi.export("production_test_key_id", key.key_id)
"""


def project_file(virtualenv: str) -> str:
    """A ``Pulumi.yaml`` whose runtime is the interpreter at ``virtualenv`` (a cell's)."""
    return (
        "name: seed\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {json.dumps(virtualenv)}\n"
    )


def main() -> int:
    """Run the scenario; raise on the first check that fails."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ardent-seed-") as folder:
        tmp = Path(folder)
        with EmulatorServer(db=tmp / "emulator.db", credentials=tmp / "credentials.json") as emulator:
            project = tmp / "project"
            project.mkdir()
            (project / "Pulumi.yaml").write_text(project_file(sys.prefix))
            (project / "__main__.py").write_text(PROGRAM)
            cli = PulumiCLI(project, tmp / "state", "seed-scenario")
            cli.select_stack("dev")
            cli.set_config("ardent:apiUrl", emulator.url)
            cli.set_config("ardent:orgId", emulator.org_id)
            cli.set_config("ardent:token", emulator.token, secret=True)

            cli.run("up", "--yes", "--skip-preview")
            shown = cli.outputs()
            token = cli.outputs(show_secrets=True)["production_test_token"]
            key_id = shown["production_test_key_id"]
            with ArdentClient(emulator.token, api_url=emulator.url) as owner:
                listed = {key.id: key for key in owner.list_keys(emulator.org_id)}
            assert shown["production_test_token"] == "[secret]", shown  # noqa: S105 - the CLI's mask
            assert token.startswith("sk-ard_test_"), "the token output is an Ardent test token"
            assert listed[key_id].name == "Production-Test", listed[key_id]
            assert token not in cli.state_file("seed", "dev").read_text(), "the token is encrypted in the state"

            cli.run("refresh", "--yes")
            cli.run("preview", "--expect-no-changes")
            cli.run("destroy", "--yes", "--skip-preview")
            with ArdentClient(emulator.token, api_url=emulator.url) as owner:
                assert key_id not in {key.id for key in owner.list_keys(emulator.org_id)}, "destroy revoked the key"
    print(
        f"seed scenario passed: ardent-provider {ardent_provider.__version__} on Python {sys.version.split()[0]}, "
        f"up/refresh/preview/destroy in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
