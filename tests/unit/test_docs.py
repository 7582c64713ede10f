"""The README and the docs/ pages hold together: links resolve, anchors exist, code blocks are well-formed.

The Python blocks of docs/testing.md and the README's own-project program also run, end to end, in
tests/e2e/test_testing_kit.py; here every Python block of every page at least compiles and every JSON block parses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "contract" / "ardent" / "README.md"]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_reference_pages_exist_and_the_readme_links_each() -> None:
    readme = (ROOT / "README.md").read_text()
    assert {page.name for page in (ROOT / "docs").glob("*.md")} == {
        "development.md",
        "emulator.md",
        "keeping-tokens-out-of-the-stack.md",
        "native-provider.md",
        "platform-commands.md",
        "policy-pack.md",
        "testing.md",
    }
    for page in (ROOT / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in readme, page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_resolve_and_anchors_name_headings(page: Path) -> None:
    text = page.read_text()
    headings = {anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, fragment = target.partition("#")
        if path:
            assert (page.parent / path).exists(), f"{page.name}: {target}"
        elif fragment:
            assert fragment in headings, f"{page.name}: #{fragment} names no heading"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_python_blocks_compile_and_json_blocks_parse(page: Path) -> None:
    text = page.read_text()
    for number, block in enumerate(blocks(text, "python")):
        compile(block, f"{page.name} python block {number}", "exec")
    for block in blocks(text, "json"):
        json.loads(block)


def test_every_yaml_block_of_the_docs_parses() -> None:
    import yaml

    found = 0
    for page in PAGES:
        for block in blocks(page.read_text(), "yaml"):
            assert yaml.safe_load(block) is not None, page.name
            found += 1
    assert found >= 2
