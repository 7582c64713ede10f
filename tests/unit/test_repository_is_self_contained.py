"""A clone of the repository alone runs its tests: nothing reads a folder beside the checkout."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from ..contract import CONTRACT_DIR, SPEC_PATH, load_spec

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()

# The folder that sits beside this team's checkouts but not beside a user's clone, however a file would reach it:
# a relative path, a path built from the project root's parent, or the folder's own sub-paths.
SIBLING = "sha" + "red"
SIBLING_REFERENCE = re.compile(
    rf"\.\./{SIBLING}\b|parent\s*/\s*[\"']{SIBLING}[\"']|\b{SIBLING}/(ardent-api|docs|hooks)\b"
)


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_file_of_the_project_names_the_folder_beside_the_checkout() -> None:
    offenders = []
    files = [path for path in tracked_files() if path.resolve() != THIS_FILE and path.is_file()]
    assert len(files) > 50, "expected the project's files from git ls-files"
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if SIBLING_REFERENCE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "files that read outside the clone:\n" + "\n".join(offenders)


def test_the_pattern_catches_each_way_of_naming_it() -> None:
    for line in (
        f"../{SIBLING}/ardent-api/openapi.public.json",
        f'ROOT.parent / "{SIBLING}" / "ardent-api"',
        f"see {SIBLING}/docs/pulumi-engine.md",
    ):
        assert SIBLING_REFERENCE.search(line), line
    assert not SIBLING_REFERENCE.search("one shared, short-lived list of an org's keys")


def test_the_vendor_file_is_the_one_the_contract_readme_dates() -> None:
    recorded = re.search(r"\b([0-9a-f]{64})\b", (CONTRACT_DIR / "README.md").read_text())
    assert recorded, "contract/ardent/README.md records the file's SHA-256"
    assert hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest() == recorded.group(1)
    spec = load_spec()
    assert spec["info"]["title"] == "Ardent API"
    assert "/v1/orgs/{org_id}/api-keys" in spec["paths"]
