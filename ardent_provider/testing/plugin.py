"""The pytest fixtures ``ardent_emulator`` and ``ardent_stack``, registered through the ``pytest11`` entry point.

pytest imports this module at startup in every project that installs the package, before any test runs
(and before a coverage run starts measuring), so the kit's own modules are imported inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import ArdentEmulator
    from .factory import StackFactory


@pytest.fixture(scope="session")
def _ardent_emulator_process() -> Iterator[ArdentEmulator]:
    """The one emulator process of the test session, stopped (with its process group) when the session ends."""
    from .emulator import ArdentEmulator

    with ArdentEmulator() as emulator:
        yield emulator


@pytest.fixture
def ardent_emulator(_ardent_emulator_process: ArdentEmulator) -> ArdentEmulator:
    """A running Ardent API emulator, reset for this test: a new org and owner token, no faults, no counts."""
    _ardent_emulator_process.reset()
    return _ardent_emulator_process


@pytest.fixture
def ardent_stack(ardent_emulator: ArdentEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """``ardent_stack(program, *, stack="test", config=None)`` makes a stack configured against ``ardent_emulator``.

    At teardown every stack it made is destroyed, and the test fails if a key one of them created is still
    active.
    """
    from .factory import StackFactory
    from .pulumi_bin import PulumiNotFoundError

    try:
        factory = StackFactory(ardent_emulator, tmp_path_factory.mktemp("ardent-stack"))
    except PulumiNotFoundError as error:
        pytest.fail(f"ardent_stack needs the Pulumi CLI. {error}", pytrace=False)
    yield factory
    problems = factory.close()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
