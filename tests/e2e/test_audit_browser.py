"""The ``ardent-keys audit --html`` page in a real browser: Debian's headless Chromium driven by Selenium.

Chromium and chromedriver come from the distribution's packages: when ``/usr/bin/chromium`` is missing, the
session's setup runs ``scripts/setup-chromium`` (apt-get, as root). If that cannot install them the tests fail,
saying so: a browser test that skips itself would pass CI without ever having looked at the page.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from ardent_provider import ArdentClient
from ardent_provider.cli import main
from ardent_provider.emulator import EmulatorServer
from ardent_provider.models import ApiKey, SecretToken
from ardent_provider.platform.audit import FINDING_CODES, AuditPolicy, build_report
from ardent_provider.platform.audit_html import COLOURS, render_page
from ardent_provider.platform.orgs import OrgReading, credential_key_ids
from ardent_provider.platform.stacks import ManagedKey, Project, StackRef, StackView
from ardent_provider.settings import Settings

from ..audit_page import AuditPage, check_page
from ..conftest import FAST_RETRY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SETUP = ROOT / "scripts" / "setup-chromium"
WIDTH, HEIGHT = 1280, 1800
# Flags that keep headless Chromium from reaching out (updates, sync, QUIC probes) and run it as root here.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},{HEIGHT}",
)

# Reads the rendered page: every key row, whether its bar and squares got a box, their computed colours.
RENDERED = """
const rows = [...document.querySelectorAll('g.key')];
const box = (element) => { const r = element.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
return {
  rows: rows.map((row) => ({
    id: row.dataset.keyId,
    bar: box(row.querySelector('.bar')),
    fill: getComputedStyle(row.querySelector('.bar')).fill,
    chips: [...row.querySelectorAll('.chip')].map((chip) => [
      [...chip.classList].find((name) => name.startsWith('f-')).slice(2),
      getComputedStyle(chip).fill,
      box(chip)[2],
    ]),
  })),
  svgs: document.querySelectorAll('svg').length,
  nowLines: [...document.querySelectorAll('line.now')].map((line) => box(line)[3]),
  resources: performance.getEntriesByType('resource').length,
  viewport: [innerWidth, innerHeight, devicePixelRatio],
};
"""


def ensure_chromium() -> None:
    """Install Chromium with the project's script when it is missing; fail, clearly, when that does not work."""
    if CHROMIUM.is_file() and CHROMEDRIVER.is_file():
        return
    try:
        result = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"headless Chromium is missing and {SETUP} could not be run: {error}", pytrace=False)
    if result.returncode != 0 or not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        pytest.fail(
            f"the audit page's browser test needs headless Chromium ({CHROMIUM}, {CHROMEDRIVER}); "
            f"{SETUP} could not install it (exit {result.returncode}). Run it as root, or `apt-get install -y "
            f"chromium chromium-driver`. Its last output:\n{output}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        # A driver path given to Service keeps Selenium Manager (which would download drivers) out of it.
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            driver.set_page_load_timeout(120)
            driver.set_script_timeout(120)
            yield driver
        finally:
            driver.quit()


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def css_rgb(colour: str) -> str:
    red, green, blue = rgb(colour)
    return f"rgb({red}, {green}, {blue})"


def open_page(browser: webdriver.Chrome, path: Path) -> dict[str, Any]:
    browser.get(path.as_uri())
    rendered: dict[str, Any] = browser.execute_script(RENDERED)
    return rendered


def check_rendered(rendered: dict[str, Any], expected: Mapping[str, Sequence[str]]) -> None:
    """Every key has a row whose bar has a box, painted in its most severe finding's colour, one square each."""
    assert {row["id"] for row in rendered["rows"]} == set(expected)
    for row in rendered["rows"]:
        findings = list(expected[row["id"]])
        _, _, width, height = row["bar"]
        assert width >= 1 and height >= 4, row
        assert row["fill"] == css_rgb(COLOURS[findings[0] if findings else "ok"]), row
        assert [code for code, _, _ in row["chips"]] == findings
        assert all(fill == css_rgb(COLOURS[code]) and width > 0 for code, fill, width in row["chips"])
    assert rendered["resources"] == 0, "the page loaded something"
    assert rendered["nowLines"] and all(height > 0 for height in rendered["nowLines"])


def screenshot_colours(browser: webdriver.Chrome, rendered: dict[str, Any]) -> tuple[Image.Image, dict[Any, int]]:
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    width, height, ratio = rendered["viewport"]
    assert image.size == (round(width * ratio), round(height * ratio))
    counts = {colour: count for count, colour in image.getcolors(maxcolors=image.width * image.height) or []}
    return image, counts


def test_a_real_audit_page_renders_its_bars_in_their_colours(
    browser: webdriver.Chrome, emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [emulator.token]
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:

        def key(
            name: str, expires_days: int | None, scopes: tuple[str, ...] = ("org.read",), used: bool = True
        ) -> None:
            created = owner.create_key(
                emulator.org_id, name=name, role="role_org_viewer", scopes=scopes, expires_days=expires_days
            )
            tokens.append(created.token.reveal())
            if used:
                with owner.with_token(created.token) as client:
                    client.get_org(emulator.org_id)

        def advance(days: float) -> None:
            httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": days * 86400}).raise_for_status()

        key("short-lived", 1, scopes=(), used=False)
        key("stale", 365)
        advance(100)
        key("expiring", 10)
        key("never-used", 365, used=False)
        key("in-order", 365)
        key("no-expiry", None)
    monkeypatch.setenv("ARDENT_TOKEN", emulator.token)
    monkeypatch.setenv("ARDENT_ORG_ID", emulator.org_id)
    monkeypatch.setenv("ARDENT_API_URL", emulator.url)
    page_path = tmp_path / "audit.html"

    assert main(["audit", "--html", str(page_path), "--json"]) == 1

    page = AuditPage(page_path.read_text(encoding="utf-8"))
    expected = {key_id: row.findings for key_id, row in page.rows.items()}
    assert len(expected) == 7
    assert {code for findings in expected.values() for code in findings} == set(FINDING_CODES) - {"unmanaged"}
    check_page(page, expected, tokens)
    rendered = open_page(browser, page_path)
    check_rendered(rendered, expected)
    assert rendered["svgs"] == 1 + len({findings[0] if findings else "ok" for findings in expected.values()})
    image, counts = screenshot_colours(browser, rendered)
    painted = sum(count for colour, count in counts.items() if colour != (255, 255, 255))
    assert painted > 0.02 * image.width * image.height, "the screenshot is nearly blank"
    for code, colour in COLOURS.items():
        assert counts.get(rgb(colour), 0) >= 20, f"no {code} pixels on screen"
    image.save(tmp_path / "audit.png")


def synthetic_report(count: int) -> tuple[str, dict[str, tuple[str, ...]]]:
    """A page of ``count`` keys of every kind, judged with a stack given, built without any service."""
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    keys: list[ApiKey] = []
    for index in range(count):
        expiry = (None, -20, -1, 5, 25, 60, 365, 3000)[index % 8]
        used = (None, 1, 40, 120, 400)[index % 5]
        keys.append(
            ApiKey(
                id=f"key_{index:05d}",
                name=f"team-{index % 17}-service-{index:05d}",
                key_prefix=f"sk-ard_test_{index:08d}",
                scopes=() if index % 3 == 0 else ("org.read",),
                created_at=now - timedelta(days=(index * 7919) % 700, hours=index % 24),
                expires_at=now + timedelta(days=expiry) if expiry is not None else None,
                last_used_at=now - timedelta(days=used) if used is not None else None,
            )
        )
    token = SecretToken("sk-ard_test_00000000" + "s" * 32)
    settings = Settings("https://api.tryardent.com", "org_big", token)
    reading = OrgReading(
        "org_big", settings, "web/prod", tuple(keys), credential_key_ids(keys, [("web/prod", token)]), now
    )
    managed = tuple(
        ManagedKey("prod", f"key-{index}", f"key_{index:05d}", None, "current", "web", "org_big")
        for index in range(0, count, 2)
    )
    view = StackView(StackRef(Project("web", Path("/p/web")), "prod"), settings, managed)
    report = build_report([view], [reading], AuditPolicy(stacks_given=True))
    return render_page(report), {item.key.id: item.findings for item in report.keys}


def test_2000_keys_render_row_by_row_under_an_axis_that_stays_in_view(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    text, expected = synthetic_report(2000)
    page_path = tmp_path / "audit-2000.html"
    page_path.write_text(text, encoding="utf-8")
    check_page(AuditPage(text), expected, ["s" * 32])
    assert {code for findings in expected.values() for code in findings} == set(FINDING_CODES)

    started = time.perf_counter()
    rendered = open_page(browser, page_path)
    seconds = time.perf_counter() - started

    assert seconds < 30, f"Chromium took {seconds:.1f} s to load and measure the page"
    check_rendered(rendered, expected)
    # Rows never overlap: within the page, each row's bar sits lower than the one before.
    tops = [row["bar"][1] for row in rendered["rows"]]
    assert min(later - earlier for earlier, later in itertools.pairwise(tops)) >= 8
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
    axis_top = browser.execute_script("return document.querySelector('svg.axis').getBoundingClientRect().top")
    assert axis_top == 0, "the time axis scrolled out of view"
    image, counts = screenshot_colours(browser, rendered)
    painted = sum(count for colour, count in counts.items() if colour != (255, 255, 255))
    assert painted > 0.05 * image.width * image.height, "the middle of the timeline is nearly blank"


def test_a_missing_chromium_that_cannot_be_installed_fails_the_run_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = tmp_path / "setup-chromium"
    refusing.write_text("#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n")
    refusing.chmod(0o755)
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(sys.modules[__name__], "SETUP", refusing)

    with pytest.raises(pytest.fail.Exception) as failure:
        ensure_chromium()

    message = str(failure.value)
    assert "needs headless Chromium" in message and "could not install it (exit 100)" in message
    assert "apt-get install -y chromium chromium-driver" in message and "Unable to locate package" in message


def test_keys_expiring_in_86_days_399_days_and_never_end_at_clearly_different_places_in_the_browser(
    browser: webdriver.Chrome, emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        made = {
            name: owner.create_key(emulator.org_id, name=name, role="role_org_viewer", expires_days=days).id
            for name, days in (("in-86-days", 86), ("in-399-days", 399), ("in-ten-years", 3650), ("never", None))
        }
    monkeypatch.setenv("ARDENT_TOKEN", emulator.token)
    monkeypatch.setenv("ARDENT_ORG_ID", emulator.org_id)
    monkeypatch.setenv("ARDENT_API_URL", emulator.url)
    page_path = tmp_path / "audit.html"
    assert main(["audit", "--html", str(page_path)]) == 1

    rendered = open_page(browser, page_path)
    right = {row["id"]: row["bar"][0] + row["bar"][2] for row in rendered["rows"]}
    ends = [right[made[name]] for name in ("in-86-days", "in-399-days", "in-ten-years", "never")]
    # CSS pixels at a 1280-pixel window: each end at least 20 px after the one before, in expiry order.
    assert all(later - earlier >= 20 for earlier, later in itertools.pairwise(ends)), ends
    breaks = browser.execute_script("return document.querySelectorAll('polyline.break-zigzag').length")
    assert breaks >= 2, "the axis and the rows show where the time scale breaks"
