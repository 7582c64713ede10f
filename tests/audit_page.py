"""Reading an ``ardent-keys audit --html`` page back: its key rows, their findings and colours, what it loads."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ardent_provider.platform.audit import FINDING_CODES

# Everything that would make a browser fetch something, or run something.
FETCHING_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source", "image", "use"}
FETCHING_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data"}


@dataclass
class Row:
    """One key's row of the timeline: the findings it claims and the colour classes it draws with."""

    key_id: str
    org_id: str
    findings: list[str]
    row_class: str
    chips: list[str] = field(default_factory=list)
    bars: list[str] = field(default_factory=list)
    arrows: list[str] = field(default_factory=list)
    used_markers: int = 0
    label: str = ""
    tooltip: str = ""


class AuditPage(HTMLParser):
    """The parsed page: rows by key id, the colour of each ``f-<finding>`` class, every tag and attribute."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.raw = text
        self.rows: dict[str, Row] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.style = ""
        self.texts: list[str] = []
        self._row: Row | None = None
        self._inside: list[str] = []
        self.feed(text)
        self.close()
        self.colours = dict(re.findall(r"\.f-([a-z_]+)\{fill:(#[0-9a-f]{6})", self.style))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        self._inside.append(tag)
        classes = values.get("class", "").split()
        colour = next((name[2:] for name in classes if name.startswith("f-")), "")
        if tag == "g" and "data-key-id" in values:
            findings = values.get("data-findings", "").split()
            self._row = Row(values["data-key-id"], values.get("data-org-id", ""), findings, colour)
            self.rows[self._row.key_id] = self._row
        elif self._row is not None and "chip" in classes:
            self._row.chips.append(colour)
        elif self._row is not None and "bar" in classes:
            self._row.bars.append(colour)
        elif self._row is not None and "arrow" in classes:
            self._row.arrows.append(colour)
        elif self._row is not None and "used" in classes:
            self._row.used_markers += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._inside:
            while self._inside.pop() != tag:
                pass
        if tag == "g":
            self._row = None

    def handle_data(self, data: str) -> None:
        current = self._inside[-1] if self._inside else ""
        if current == "style":
            self.style += data
            return
        self.texts.append(data)
        if self._row is not None and current == "title":
            self._row.tooltip += data
        elif self._row is not None and current == "text":
            self._row.label += data

    def tag_count(self, tag: str, css_class: str | None = None) -> int:
        """How many ``tag`` elements (with ``css_class`` among their classes) the page has."""
        return sum(
            1
            for name, values in self.tags
            if name == tag and (css_class is None or css_class in values.get("class", "").split())
        )

    def fetches(self) -> list[str]:
        """Everything in the page that would load a resource or run code; empty for a self-contained page."""
        found = [f"<{tag}>" for tag, _ in self.tags if tag in FETCHING_TAGS]
        found += [f"<{tag} {name}=…>" for tag, values in self.tags for name in values if name in FETCHING_ATTRIBUTES]
        found += [f"<{tag} {name}=…>" for tag, values in self.tags for name in values if name.startswith("on")]
        found += [word for word in ("url(", "@import", "@font-face") if word in self.style]
        return found


def check_page(page: AuditPage, expected: Mapping[str, Collection[str]], secrets: Iterable[str]) -> None:
    """Assert that every expected key (id -> its findings) has a row and that each finding is drawn in colour.

    The bar carries the most severe finding's colour (``ok`` without findings), one square per finding carries
    that finding's colour, every finding has a colour of its own, and no secret appears anywhere in the page.
    """
    assert set(page.rows) == set(expected), "rows and keys differ"
    assert set(page.colours) >= {*FINDING_CODES, "ok"}, page.colours
    assert len(set(page.colours.values())) == len(page.colours), "two findings share a colour"
    for key_id, findings in expected.items():
        row = page.rows[key_id]
        ordered = [code for code in FINDING_CODES if code in findings]
        assert row.findings == ordered, (key_id, row.findings, ordered)
        assert row.chips == ordered, (key_id, row.chips)
        primary = ordered[0] if ordered else "ok"
        assert row.bars == [primary] and row.row_class == primary, (key_id, row.bars)
        assert all(colour == primary for colour in row.arrows)
        assert key_id in row.tooltip
    assert page.fetches() == []
    leaked = [secret for secret in secrets if secret and secret in page.raw]
    assert leaked == [], "the page shows a secret"
