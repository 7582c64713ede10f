"""The ``--html`` page of ``ardent-keys audit``: one self-contained file with a summary and a timeline.

The timeline has one bar per key from its creation to its expiry (an arrow at the right edge when it never
expires or expires beyond the picture), a marker at its last use, the service's "now" as a line, the
``--expiring-within`` window shaded, and the bar coloured by the key's most severe finding; small squares
before each bar show every finding of the key in its colour. Keys are grouped by most severe finding (and
by org when there are several), oldest first, under a time axis that stays in view while scrolling, so
2,000 keys read as a handful of coloured bands. Hovering a row shows the key's details.

The document is built as an element tree with the standard library's :mod:`xml.etree.ElementTree` and
serialized as HTML: every name and id is escaped by construction, the page needs no JavaScript, no network
and no fonts of its own, and the package gains no dependency (see the README for the libraries considered).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from .audit import FINDING_KINDS, AuditReport, KeyAudit
from .render import span, wire_time

OK = "ok"
COLOURS: Mapping[str, str] = MappingProxyType(
    {
        # The Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies.
        "expired": "#d55e00",
        "expiring": "#e69f00",
        "unmanaged": "#cc79a7",
        "stale": "#0072b2",
        "never_used": "#56b4e9",
        "no_expiry": "#7f7f7f",
        "all_scopes": "#f0e442",
        OK: "#009e73",
    }
)
NOW_COLOUR = "#c00000"

WIDTH = 1200
LABEL_RIGHT = 246
CHIP_LEFT = 254
CHIP_SIZE = 7
CHIP_STEP = 9
CHART_LEFT = CHIP_LEFT + CHIP_STEP * len(FINDING_KINDS) + 8
CHART_RIGHT = WIDTH - 16
ROW = 12
BAR = 8
AXIS_HEIGHT = 30
# Half the width of a tick's label: a label closer than this to either end of the axis would be cut off.
LABEL_ROOM = 28
NAME_CHARS = 40
MOST_TICKS = 10
DAY_STEPS = (1, 2, 7, 14)
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)
# Room at the right end for keys that never expire, beyond every dated expiry.
NEVER_ROOM = 40
# With a break in the axis: the share of the dated chart before it, the gap it leaves, the labels after it.
NEAR_SHARE = 0.75
BREAK_GAP = 12
FAR_MONTHS = (1, 3, 6, 12, 24, 60, 120, 240)
FAR_LABEL_SPACING = 56

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 24px 48px;
color:#1b1b1b;background:#fff}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:28px 0 6px}
h3{font-size:14px;margin:14px 0 2px;display:flex;align-items:center;gap:6px}
.meta{color:#444;margin:2px 0}
table.summary{border-collapse:collapse;margin:10px 0}
table.summary th,table.summary td{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
table.summary td.count{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid rgba(0,0,0,.35);vertical-align:-1px}
.timeline{max-width:1200px}
svg{display:block;width:100%;height:auto;max-width:1200px}
svg.axis{position:sticky;top:0;background:#fff;z-index:1;border-bottom:1px solid #bbb}
svg text{font:10px system-ui,"DejaVu Sans",sans-serif;fill:#222}
svg .tick{stroke:#e4e4e4;stroke-width:1}
svg .window{fill:#e69f00;fill-opacity:.10}
svg .now{stroke:%(now)s;stroke-width:1.5;stroke-dasharray:4 2}
svg text.now-label{fill:%(now)s;font-weight:700}
svg .bar,svg .arrow{stroke:rgba(0,0,0,.35);stroke-width:.5}
svg .chip{stroke:rgba(0,0,0,.45);stroke-width:.5}
svg .used{fill:#111;stroke:#fff;stroke-width:.75}
svg .axis-break{fill:#fff}
svg .break-zigzag{fill:none;stroke:#777;stroke-width:1}
svg g.key:hover .bar{stroke:#000;stroke-width:1.2}
svg g.key:hover text{font-weight:700}
.legend{color:#444;max-width:1200px}
"""


@dataclass(frozen=True)
class Scale:
    """The picture's time axis, from ``start`` at x = ``left`` to ``end`` at x = ``right``, maybe with a break.

    Without a break the axis is linear. With one, ``start`` to ``break_at`` fills the chart linearly up to
    ``break_x``, and ``break_at`` to ``end`` (the latest expiry shown) the rest after a gap, on a logarithmic
    scale of the time past the break: one key expiring in ten years does not squash every other bar into the
    left edge, and keys expiring in 86 days, in 399 days and never still end at clearly different places.
    Keys that never expire run on to ``never_x``, with an arrow.
    """

    start: datetime
    end: datetime
    left: float = CHART_LEFT
    right: float = CHART_RIGHT - NEVER_ROOM
    break_at: datetime | None = None
    break_x: float | None = None

    @property
    def never_x(self) -> float:
        """Where the bar of a key that never expires ends: past every dated expiry."""
        return CHART_RIGHT

    def x(self, moment: datetime) -> float:
        """The x coordinate of ``moment``, held within the dated part of the chart."""
        if self.break_at is None or self.break_x is None:
            return _between(moment, self.start, self.end, self.left, self.right)
        if moment <= self.break_at:
            return _between(moment, self.start, self.break_at, self.left, self.break_x)
        past_break = math.log1p((moment - self.break_at) / timedelta(days=1))
        whole = math.log1p((self.end - self.break_at) / timedelta(days=1))
        share = min(1.0, past_break / whole)
        return self.break_x + BREAK_GAP + (self.right - self.break_x - BREAK_GAP) * share

    def marks(self) -> list[tuple[datetime, str]]:
        """Round moments to label: about ``MOST_TICKS`` before the break, a few after it.

        After the break, first days of months some months to years apart, as far from each other as a label
        needs on the logarithmic part.
        """
        if self.break_at is None or self.break_x is None:
            return ticks(self.start, self.end)
        far: list[tuple[datetime, str]] = []
        last_x = self.break_x + BREAK_GAP
        first_of_month = self.break_at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for months in FAR_MONTHS:
            index = first_of_month.year * 12 + first_of_month.month - 1 + months
            moment = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
            if moment > self.end:
                break
            if self.x(moment) - last_x >= FAR_LABEL_SPACING:
                far.append((moment, moment.strftime("%b %Y")))
                last_x = self.x(moment)
        return [*ticks(self.start, self.break_at), *far]


def _between(moment: datetime, start: datetime, end: datetime, left: float, right: float) -> float:
    share = (moment - start) / (end - start)
    return left + (right - left) * min(1.0, max(0.0, share))


def timeline_scale(keys: Sequence[KeyAudit], now: datetime, expiring_within: timedelta) -> Scale:
    """From the oldest key's creation to the latest expiry shown, with a break where one would squash the rest.

    The part before the break shows the past and as much future (the later of the expiring window and the
    past shown, at least 30 days) to scale; expiries further ahead (up to ten years) go to a compressed part
    after the break. Without such expiries there is no break.
    """
    created = [item.key.created_at for item in keys if item.key.created_at is not None]
    past = max(now - min(created, default=now), timedelta(days=1))
    latest = max((item.key.expires_at for item in keys if item.key.expires_at is not None), default=now)
    near = max(expiring_within, min(latest - now, max(past, timedelta(days=30))), timedelta(days=1))
    margin = (past + near) / 50
    start, near_end = now - past - margin, now + near + margin
    if latest <= near_end:
        return Scale(start, near_end)
    end = latest + (latest - near_end) / 50
    break_x = CHART_LEFT + (CHART_RIGHT - NEVER_ROOM - CHART_LEFT) * NEAR_SHARE
    return Scale(start, end, break_at=near_end, break_x=break_x)


def ticks(start: datetime, end: datetime, most: int = MOST_TICKS) -> list[tuple[datetime, str]]:
    """Round moments between ``start`` and ``end`` (days, Mondays, calendar months or years), about ``most``."""
    days = (end - start) / timedelta(days=1)
    midnight = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for step in DAY_STEPS:
        if days / step <= most:
            first = midnight + timedelta(days=(-midnight.weekday()) % 7 if step >= 7 else 0)
            moments = [first + timedelta(days=step * index) for index in range(int(days / step) + 2)]
            return [(moment, moment.strftime("%Y-%m-%d")) for moment in moments if start <= moment <= end]
    months = max(1, round(days / 30.44))
    step = next((step for step in MONTH_STEPS if months / step <= most), 12 * -(-months // (12 * most)))
    index = midnight.year * 12 + midnight.month - 1
    index += -index % step
    found: list[tuple[datetime, str]] = []
    while True:
        moment = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        if moment > end:
            return found
        if moment >= start:
            found.append((moment, moment.strftime("%Y" if step % 12 == 0 else "%b %Y")))
        index += step


def render_page(report: AuditReport) -> str:
    """The whole page as HTML text."""
    page = ET.Element("html", lang="en")
    head = ET.SubElement(page, "head")
    ET.SubElement(head, "meta", charset="utf-8")
    ET.SubElement(head, "meta", name="viewport", content="width=device-width, initial-scale=1")
    orgs = ", ".join(reading.org_id for reading in report.readings)
    ET.SubElement(head, "title").text = f"Ardent API keys: audit of {orgs}"
    ET.SubElement(head, "style").text = _style()
    body = ET.SubElement(page, "body")
    _summary(body, report)
    _timeline(body, report)
    footer = ET.SubElement(body, "p", {"class": "meta"})
    footer.text = "Written by ardent-keys audit. The page is self-contained: it loads nothing."
    return "<!DOCTYPE html>\n" + ET.tostring(page, encoding="unicode", method="html") + "\n"


def _style() -> str:
    rules = "".join(f".f-{code}{{fill:{colour};background:{colour}}}" for code, colour in COLOURS.items())
    return STYLE.replace("%(now)s", NOW_COLOUR) + rules + "\n"


def _summary(body: ET.Element, report: AuditReport) -> None:
    several = len(report.readings) > 1
    orgs = ", ".join(reading.org_id for reading in report.readings)
    ET.SubElement(body, "h1").text = f"Ardent API keys of org{'s' if several else ''} {orgs}"
    checked = wire_time(report.checked_at.replace(microsecond=0))
    flagged = len(report.flagged)
    _paragraph(
        body,
        f"{len(report.keys):,} active key(s), {flagged:,} with at least one finding. Checked at {checked} "
        f"(the service's time). Stale after {report.policy.stale_after_days:g} day(s) without use; expiring "
        f"within {report.policy.expiring_within_days:g} day(s).",
    )
    if report.views:
        stacks = ", ".join(view.ref.label for view in report.views)
        _paragraph(body, f"Managed keys and credentials taken from the stack(s) {stacks}.")
    else:
        _paragraph(body, "No stacks were given, so no key is judged unmanaged.")
    ET.SubElement(body, "h2").text = "Summary"
    table = ET.SubElement(body, "table", {"class": "summary"})
    header = ET.SubElement(table, "tr")
    for title in ("", "Finding", "Keys", "Meaning"):
        ET.SubElement(header, "th").text = title
    counts = report.counts()
    meanings = {
        "stale": f"not used for more than {report.policy.stale_after_days:g} day(s)",
        "expiring": f"expires within {report.policy.expiring_within_days:g} day(s): rotate it",
    }
    rows = [(kind.code, kind.title, counts[kind.code], meanings.get(kind.code, kind.meaning)) for kind in FINDING_KINDS]
    rows.append((OK, "No finding", len(report.keys) - flagged, "nothing to do"))
    for code, title, count, meaning in rows:
        row = ET.SubElement(table, "tr", {"data-finding": code})
        _swatch(ET.SubElement(row, "td"), code)
        ET.SubElement(row, "td").text = f"{title} ({code})" if code != OK else title
        ET.SubElement(row, "td", {"class": "count"}).text = f"{count:,}"
        ET.SubElement(row, "td").text = meaning
    if several:
        orgs_table = ET.SubElement(body, "table", {"class": "summary"})
        header = ET.SubElement(orgs_table, "tr")
        for title in ("Org", "API", "Active keys", "With findings"):
            ET.SubElement(header, "th").text = title
        for reading in report.readings:
            row = ET.SubElement(orgs_table, "tr")
            ET.SubElement(row, "td").text = reading.org_id
            ET.SubElement(row, "td").text = reading.api_url
            ET.SubElement(row, "td", {"class": "count"}).text = f"{len(reading.listed):,}"
            with_findings = sum(1 for item in report.flagged if item.org_id == reading.org_id)
            ET.SubElement(row, "td", {"class": "count"}).text = f"{with_findings:,}"


def _timeline(body: ET.Element, report: AuditReport) -> None:
    ET.SubElement(body, "h2").text = "Timeline"
    if not report.keys:
        _paragraph(body, "The org has no active key.")
        return
    _paragraph(
        body,
        "One bar per key, from its creation to its expiry; an arrow at the right edge: it never expires. "
        "Where a zigzag breaks the axis, the time after it is compressed, so that keys expiring years ahead "
        "do not squash the rest. The dark diamond marks its last use (none: never used). The dashed red "
        "line is now; the shaded band is the expiring window. The bar's colour is the key's most severe "
        "finding; the squares before it show all of its findings. Hover a row for its details.",
        "legend",
    )
    now = report.checked_at
    scale = timeline_scale(report.keys, now, report.policy.expiring_within)
    marks = scale.marks()
    timeline = ET.SubElement(body, "div", {"class": "timeline"})
    _axis(timeline, scale, marks, now)
    several = len(report.readings) > 1
    titles = {kind.code: kind.title for kind in FINDING_KINDS} | {OK: "No finding"}
    for reading in report.readings:
        keys = [item for item in report.keys if item.org_id == reading.org_id]
        if several:
            ET.SubElement(timeline, "h3").text = f"Org {reading.org_id}"
        timespec = report.timespec(reading.org_id)
        for code in (*(kind.code for kind in FINDING_KINDS), OK):
            group = [item for item in keys if (item.primary or OK) == code]
            if not group:
                continue
            section = ET.SubElement(timeline, "section", {"class": "group", "data-finding": code})
            heading = ET.SubElement(section, "h3")
            _swatch(heading, code)
            label = ET.SubElement(heading, "span")
            label.text = f"{titles[code]}: {len(group):,} key(s)"
            _rows(section, group, scale, marks, now, report.policy.expiring_within, timespec)


def _axis(parent: ET.Element, scale: Scale, marks: Sequence[tuple[datetime, str]], now: datetime) -> None:
    svg = _svg(parent, AXIS_HEIGHT, "axis")
    ET.SubElement(svg, "text", x=_n(LABEL_RIGHT), y="20", attrib={"text-anchor": "end"}).text = "key"
    ET.SubElement(svg, "text", x=_n(CHIP_LEFT), y="20").text = "findings"
    for moment, label in marks:
        x = scale.x(moment)
        ET.SubElement(svg, "line", {"class": "tick", "x1": _n(x), "x2": _n(x), "y1": "22", "y2": _n(AXIS_HEIGHT)})
        beside_break = scale.break_x is not None and abs(x - scale.break_x - BREAK_GAP / 2) < LABEL_ROOM
        if CHART_LEFT + LABEL_ROOM <= x <= scale.right - LABEL_ROOM / 2 and not beside_break:
            ET.SubElement(svg, "text", x=_n(x), y="20", attrib={"text-anchor": "middle"}).text = label
    if scale.break_x is not None:
        _break_mark(svg, scale.break_x, 4, AXIS_HEIGHT)
    ET.SubElement(svg, "text", x=_n(scale.never_x), y="20", attrib={"text-anchor": "end"}).text = "never"
    x = scale.x(now)
    ET.SubElement(svg, "line", {"class": "now", "x1": _n(x), "x2": _n(x), "y1": "12", "y2": _n(AXIS_HEIGHT)})
    ET.SubElement(svg, "text", {"class": "now-label", "x": _n(x + 3), "y": "9"}).text = "now"


def _break_mark(svg: ET.Element, x: float, top: float, bottom: float) -> None:
    """A zigzag band where the axis breaks: time after it is drawn to another scale."""
    ET.SubElement(
        svg,
        "rect",
        {"class": "axis-break", "x": _n(x), "y": _n(top), "width": _n(BREAK_GAP), "height": _n(bottom - top)},
    )
    steps = max(1, round((bottom - top) / 6))
    points = " ".join(
        f"{_n(x + (BREAK_GAP if index % 2 else 0))},{_n(top + (bottom - top) * index / steps)}"
        for index in range(steps + 1)
    )
    ET.SubElement(svg, "polyline", {"class": "break-zigzag", "points": points})


def _rows(
    parent: ET.Element,
    group: Sequence[KeyAudit],
    scale: Scale,
    marks: Sequence[tuple[datetime, str]],
    now: datetime,
    expiring_within: timedelta,
    timespec: str,
) -> None:
    height = len(group) * ROW + 4
    svg = _svg(parent, height, "rows")
    for moment, _ in marks:
        x = _n(scale.x(moment))
        ET.SubElement(svg, "line", {"class": "tick", "x1": x, "x2": x, "y1": "0", "y2": _n(height)})
    left, right = scale.x(now), scale.x(now + expiring_within)
    ET.SubElement(
        svg, "rect", {"class": "window", "x": _n(left), "y": "0", "width": _n(right - left), "height": _n(height)}
    )
    for index, item in enumerate(group):
        _row(svg, item, index * ROW + 2, scale, timespec)
    if scale.break_x is not None:
        # Over the bars, so that each bar crossing the break shows the gap.
        _break_mark(svg, scale.break_x, 0, height)
    ET.SubElement(svg, "line", {"class": "now", "x1": _n(left), "x2": _n(left), "y1": "0", "y2": _n(height)})


def _row(svg: ET.Element, item: KeyAudit, top: float, scale: Scale, timespec: str) -> None:
    key = item.key
    colour = item.primary or OK
    row = ET.SubElement(
        svg,
        "g",
        {
            "class": f"key f-{colour}",
            "data-key-id": key.id,
            "data-org-id": item.org_id,
            "data-findings": " ".join(item.findings),
        },
    )
    ET.SubElement(row, "title").text = _tooltip(item, timespec)
    middle = top + ROW / 2
    name = key.name if len(key.name) <= NAME_CHARS else key.name[: NAME_CHARS - 1] + "…"
    label = ET.SubElement(row, "text", x=_n(LABEL_RIGHT), y=_n(middle + 3.5), attrib={"text-anchor": "end"})
    label.text = name or key.id
    for slot, code in enumerate(item.findings):
        ET.SubElement(
            row,
            "rect",
            {
                "class": f"chip f-{code}",
                "x": _n(CHIP_LEFT + slot * CHIP_STEP),
                "y": _n(middle - CHIP_SIZE / 2),
                "width": _n(CHIP_SIZE),
                "height": _n(CHIP_SIZE),
            },
        )
    start = scale.x(key.created_at) if key.created_at is not None else scale.left
    open_ended = key.expires_at is None
    end = scale.never_x - 6 if key.expires_at is None else scale.x(key.expires_at)
    bar_top = middle - BAR / 2
    ET.SubElement(
        row,
        "rect",
        {
            "class": f"bar f-{colour}",
            "x": _n(start),
            "y": _n(bar_top),
            "width": _n(max(2.0, end - start)),
            "height": _n(BAR),
        },
    )
    if open_ended:
        tip = f"M{_n(end)},{_n(bar_top - 2)}l6,{_n(BAR / 2 + 2)}l-6,{_n(BAR / 2 + 2)}z"
        ET.SubElement(row, "path", {"class": f"arrow f-{colour}", "d": tip})
    if key.last_used_at is not None:
        x = scale.x(key.last_used_at)
        diamond = f"M{_n(x)},{_n(middle - 4.5)}l4,4.5l-4,4.5l-4,-4.5z"
        ET.SubElement(row, "path", {"class": "used", "d": diamond})


def _tooltip(item: KeyAudit, timespec: str) -> str:
    key, now = item.key, item.now
    used = "never" if key.last_used_at is None else f"{wire_time(key.last_used_at, timespec)}"
    if key.last_used_at is not None and key.last_used_at <= now:
        used += f" ({span(now - key.last_used_at)} ago)"
    expires = "never" if key.expires_at is None else f"{wire_time(key.expires_at, timespec)}"
    lines = [
        key.name or "(no name)",
        f"{key.id} in org {item.org_id}",
        f"created {wire_time(key.created_at, timespec) or 'unknown'}",
        f"last used {used}",
        f"expires {expires}",
        f"scopes: {', '.join(key.scopes) or 'none (every permission of its role)'}",
        f"findings: {'; '.join(item.details()) or 'none'}",
    ]
    managers = [f"{managed.label} {managed.resource} ({managed.kind})" for managed in item.managed_by]
    if managers:
        lines.append(f"managed by {', '.join(managers)}")
    if item.credential_of:
        lines.append(f"credential of {', '.join(item.credential_of)}")
    return "\n".join(lines)


def _svg(parent: ET.Element, height: float, kind: str) -> ET.Element:
    return ET.SubElement(
        parent,
        "svg",
        {
            "class": kind,
            "viewBox": f"0 0 {WIDTH} {_n(height)}",
            "width": str(WIDTH),
            "height": _n(height),
            "role": "img",
        },
    )


def _swatch(parent: ET.Element, code: str) -> None:
    ET.SubElement(parent, "span", {"class": f"swatch f-{code}", "title": code})


def _paragraph(parent: ET.Element, text: str, kind: str = "meta") -> None:
    ET.SubElement(parent, "p", {"class": kind}).text = text


def _n(value: float) -> str:
    """A coordinate with at most one decimal, which is finer than a pixel and keeps the page small."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
