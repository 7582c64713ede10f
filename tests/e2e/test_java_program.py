"""Java (examples/java) end to end, with the real CLI and the language host that scripts/setup-pulumi builds.

One file per language, so that the end-to-end run spreads the three examples over its workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ardent_provider.emulator import EmulatorServer

from .language_programs import LANGUAGES, run_the_example_end_to_end

pytestmark = pytest.mark.e2e


def test_the_java_example_creates_refreshes_imports_reaches_a_second_org_refuses_bad_input_and_destroys(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    run_the_example_end_to_end(tmp_path, emulator, LANGUAGES["java"])
