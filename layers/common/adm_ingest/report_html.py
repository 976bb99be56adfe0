"""The per-file report as one HTML page: ``reports/<original key>.html``, beside the JSON.

A person opens it from the bucket (or ``demo-output/``) and sees what happened without reading
JSON: the status and the balance, rejects by reason with the first rejected lines, identifier
coverage, countries and where they came from, where consent came from, the resolved mapping
and every warning, the requests, the destination's own results and the match rate when known.

One self-contained file: inline CSS and inline SVG, no scripts, fonts or fetched assets (a
Content-Security-Policy forbids them too, in case anything slipped through), readable on a
phone and printed. Column names, reasons, warnings and API facts come from a user's file or a
remote API, so every value is escaped (:func:`html.escape`, attributes always quoted) — the
report itself is treated as untrusted input. Stdlib only: it ships in the Lambda layer.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adm_ingest.request_times import Bucket, buckets, parse_minute

Reject = tuple[int | str, str, str]
"""One row of the rejects file: ``(line, outcome, reason)``."""

MAX_BARS = 15
"""Bars per chart; the rest are summed into one "others" bar."""
MAX_LIST = 50
"""Entries shown of a long list (ingress ids); the count of the rest is said."""

GREEN, AMBER, RED, BLUE, GREY = "#2e7d32", "#e65100", "#c62828", "#1565c0", "#9e9e9e"
_STATUS_COLOURS = {
    "complete": GREEN,
    "complete_with_failures": AMBER,
    "committed": BLUE,
    "remote_failed": RED,
    "error": RED,
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
background:#f4f5f7}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.35em;margin:0 0 4px;word-break:break-all}
h2{font-size:1.1em;margin:0 0 10px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:14px 16px;
margin:0 0 14px}
.status{display:inline-block;color:#fff;border-radius:4px;padding:2px 10px;font-weight:600}
.muted{color:#5f6368}
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.figure{flex:1 1 120px;border:1px solid #dde1e6;border-radius:6px;padding:8px 10px}
.figure b{display:block;font-size:1.5em}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
h3{font-size:.95em;margin:12px 0 6px}
svg{display:block;width:100%;margin:6px 0}
.bars{margin:6px 0}
.bar{display:grid;grid-template-columns:minmax(5em,32%) 1fr 4.5em;gap:8px;align-items:center;
font-size:.9em;margin:2px 0}
.bar span:first-child{text-align:right;overflow-wrap:anywhere}
.bar svg{height:14px;margin:0}
.bar .n{font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.93em}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff1;vertical-align:top;
overflow-wrap:break-word}
th{background:#f7f8fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
ul{margin:4px 0;padding-left:20px}
.warn{border-left:4px solid #e65100;background:#fff8e1;padding:6px 10px;margin:6px 0}
.bad{border-left-color:#c62828;background:#ffebee}
code{font-size:.92em;overflow-wrap:anywhere}
@media (max-width:600px){body{font-size:14px}main{padding:8px}section{padding:10px}}
@media print{body{background:#fff;font-size:10.5pt}main{max-width:none;padding:0}
section{border:1px solid #999;break-inside:avoid;page-break-inside:avoid}
.status{color:#000;border:1px solid #000;background:none!important}
.scroll{overflow:visible}}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_report(report: Mapping[str, Any], rejects: Sequence[Reject] = ()) -> str:
    """The report document (:func:`adm_ingest.report.build_report`'s) as one HTML page;
    ``rejects`` are the first rows of its rejects file, shown with their line numbers."""
    file = _mapping(report.get("file"))
    key = str(file.get("key") or "")
    status = str(report.get("status") or "unknown")
    body = [
        _header(report, file, status),
        _balance(report),
        _match_rate(_mapping(report.get("match_rate"))),
        _rejects(report, rejects),
        _coverage(_mapping(report.get("identifier_coverage")), _int(report.get("records_read"))),
        _countries(report),
        _mapping_section(_mapping(report.get("mapping"))),
        _warnings(report.get("warnings")),
        _requests(report),
        _destination(report),
        _details(report, file),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(status)} · {_e(key)} · adm-ingest report</title>"
        f"<style>{_CSS}</style></head>\n"
        "<body><main>\n" + "\n".join(part for part in body if part) + "\n</main></body></html>\n"
    )


# -- sections ------------------------------------------------------------------------------


def _header(report: Mapping[str, Any], file: Mapping[str, Any], status: str) -> str:
    target = _mapping(report.get("target"))
    colour = _STATUS_COLOURS.get(status, GREY)
    error = report.get("error")
    return (
        f'<section id="summary"><h1>{_e(file.get("key") or "(no key)")}</h1>'
        f'<p><span class="status" id="status" style="background:{colour}">{_e(status)}</span> '
        f'<span class="muted">{_e(report.get("kind") or "")}{_target(target)}</span></p>'
        + (f'<p class="warn bad" id="error">{_e(error)}</p>' if error else "")
        + "</section>"
    )


def _target(target: Mapping[str, Any]) -> str:
    """`` → name id``, or nothing for a file that never reached a target (an unknown prefix):
    an arrow to a blank would read as a target with no name."""
    named = " ".join(_e(target.get(part)) for part in ("name", "id") if target.get(part))
    return f" → {named}" if named else ""


def _balance(report: Mapping[str, Any]) -> str:
    read = _int(report.get("records_read"))
    parts = [
        ("accepted", _int(report.get("accepted")), GREEN),
        ("rejected", _int(report.get("rejected")), AMBER),
        ("failed", _int(report.get("failed")), RED),
    ]
    balanced = bool(report.get("balanced"))
    figures = [("read", read)] + [(name, value) for name, value, _ in parts]
    expected = report.get("records_expected")
    if expected is not None and _int(expected) != read:
        figures.append(("expected", _int(expected)))
    return (
        '<section id="balance"><h2>Balance</h2>'
        f'<p>read = accepted + rejected + failed: <b id="balanced">'
        f"{'balanced' if balanced else 'NOT BALANCED'}</b></p>"
        + _figures(figures)
        + _stacked_bar(parts)
        + _legend(parts)
        + "</section>"
    )


def _match_rate(match: Mapping[str, Any]) -> str:
    if not match:
        return ""
    percentage = match.get("match_percentage")
    figures = [
        ("matched", _maybe(match.get("matched"))),
        ("match rate", "—" if percentage is None else f"{_float(percentage):.1f} %"),
        ("records resolved", _maybe(match.get("records_resolved"))),
    ]
    warning = ""
    if match.get("below_minimum"):
        warning = (
            '<p class="warn">The matched count is below the minimum audience size '
            f"({_e(match.get('minimum_audience_size'))}): the audience may not be usable.</p>"
        )
    return (
        '<section id="match-rate"><h2>Match rate</h2>'
        + _figures(figures)
        + warning
        + f'<p class="muted">read at {_e(match.get("read_at") or "—")}</p></section>'
    )


def _rejects(report: Mapping[str, Any], rejects: Sequence[Reject]) -> str:
    rejected = _counts(report.get("rejected_by_reason"))
    failed = _counts(report.get("failed_by_reason"))
    if not rejected and not failed and not rejects:
        return ""
    bars = [(f"rejected: {r}", n, AMBER) for r, n in rejected] + [
        (f"failed: {r}", n, RED) for r, n in failed
    ]
    total = _int(report.get("rejected")) + _int(report.get("failed"))
    table = ""
    if rejects:
        rows = "".join(
            f'<tr><td class="n">{_e(line)}</td><td>{_e(outcome)}</td><td>{_e(reason)}</td></tr>'
            # By line: within a chunk the rejects file lists rejected rows before failed ones.
            for line, outcome, reason in sorted(rejects)
        )
        table = (
            f"<h3>The first {len(rejects)} of {total} (line numbers in the file)</h3>"
            '<div class="scroll"><table id="first-rejects"><tr><th class="n">line</th>'
            f"<th>outcome</th><th>reason</th></tr>{rows}</table></div>"
        )
    where = report.get("rejects_file")
    heading = "Rejects and failures" if failed else "Rejects"
    return (
        f'<section id="rejects"><h2>{heading} by reason</h2>'
        + _bar_chart(bars)
        + table
        + (f'<p class="muted">every row: <code>{_e(where)}</code></p>' if where else "")
        + "</section>"
    )


def _coverage(coverage: Mapping[str, Any], read: int) -> str:
    if not coverage:
        return ""
    rows = []
    bars = []
    for name, counts in coverage.items():
        entry = _mapping(counts)
        valid, invalid = _int(entry.get("valid")), _int(entry.get("invalid"))
        share = _float(entry.get("share_of_records"))
        bars.append((str(name), valid, BLUE))
        rows.append(
            f'<tr><td>{_e(name)}</td><td class="n">{valid}</td><td class="n">{invalid}</td>'
            f'<td class="n">{share * 100:.1f} %</td></tr>'
        )
    return (
        '<section id="coverage"><h2>Identifier coverage</h2>'
        f'<p class="muted">valid values per field, out of {read} records read</p>'
        + _bar_chart(bars, scale=max(read, 1))
        + '<div class="scroll"><table><tr><th>field</th><th class="n">valid</th>'
        '<th class="n">invalid</th><th class="n">share of records</th></tr>'
        + "".join(rows)
        + "</table></div></section>"
    )


def _countries(report: Mapping[str, Any]) -> str:
    countries = _counts(report.get("records_by_country"), ordered=False)
    sources = _counts(report.get("country_sources"))
    consent = _counts(report.get("consent_sources"))
    if not countries and not sources and not consent:
        return ""
    return (
        '<section id="countries"><h2>Countries and consent</h2>'
        + ("<h3>Records by country</h3>" + _bar_chart([(c, n, BLUE) for c, n in countries]))
        + (
            "<h3>Where each record's country came from</h3>"
            f'<p class="muted">{_COUNTRY_NOTE}</p>' + _bar_chart([(s, n, GREY) for s, n in sources])
            if sources
            else ""
        )
        + _consent_sources(consent)
        + "</section>"
    )


def _consent_sources(consent: Sequence[tuple[str, int]]) -> str:
    if not consent:
        return ""
    return (
        '<div id="consent-sources">'
        "<h3>Where each record's consent came from</h3>"
        f'<p class="muted">{_CONSENT_NOTE}</p>'
        + _bar_chart([(source, n, GREEN) for source, n in consent])
        + "</div>"
    )


_COUNTRY_NOTE = (
    "record: its own country column; mapping_default: the mapping's defaults.country (taken, "
    "or named by the record itself); dataset: the audience's country; deployment_default: "
    "the deployment's DEFAULT_COUNTRY."
)

_CONSENT_NOTE = (
    "record: a value of its own consent columns other than the mapping's defaults; "
    "mapping_default: the mapping's defaults (taken, or repeated by the record); none: no "
    "signal, which its country does not require. Records rejected for missing or invalid "
    "consent are not counted here: they are among the rejects."
)


def _mapping_section(mapping: Mapping[str, Any]) -> str:
    if not mapping:
        return ""
    rows = []
    for column in _list(mapping.get("columns")):
        entry = _mapping(column)
        target = entry.get("field") or entry.get("path") or ""
        pii_set = entry.get("pii_set")
        extra = [f"identifier set {pii_set}"] if pii_set else []
        extra += ["already hashed"] if entry.get("hashed") else []
        extra += [f"group {entry['group']}"] if entry.get("group") else []
        rows.append(
            f"<tr><td>{_e(entry.get('column'))}</td><td>{_e(target)}</td>"
            f"<td>{_e(entry.get('source') or '')}</td><td>{_e(', '.join(extra))}</td></tr>"
        )
    lists = [
        ("Identities", [_identity(_mapping(i)) for i in _list(mapping.get("identities"))]),
        ("Ignored columns (not sent)", [_e(c) for c in _list(mapping.get("ignored"))]),
        (
            "Unknown columns (never sent)",
            [_unknown(_mapping(u)) for u in _list(mapping.get("unknown"))],
        ),
        (
            "Not sent",
            [
                f"{_e(_mapping(n).get('column'))}: {_e(_mapping(n).get('why'))}"
                for n in _list(mapping.get("not_sent"))
            ],
        ),
        (
            "Configured columns missing from the file",
            [_e(c) for c in _list(mapping.get("missing"))],
        ),
        ("Fields taken from defaults", [_e(c) for c in _list(mapping.get("defaults"))]),
    ]
    notes = "".join(
        f"<h3>{title}</h3><ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
        for title, items in lists
        if items
    )
    truncated = _mapping(mapping.get("truncated"))
    if truncated:
        notes += (
            '<p class="muted">cut for size: '
            + _e(", ".join(f"{k} +{_int(v)}" for k, v in truncated.items()))
            + "</p>"
        )
    inherited = mapping.get("inherited_from")
    return (
        '<section id="mapping"><h2>Column mapping</h2>'
        + (f'<p class="muted">mapping of {_e(inherited)}/</p>' if inherited else "")
        + (f'<p class="muted">class: {_e(mapping["class"])}</p>' if mapping.get("class") else "")
        + '<div class="scroll"><table><tr><th>column</th><th>sent as</th><th>source</th>'
        "<th></th></tr>" + "".join(rows) + "</table></div>" + notes + "</section>"
    )


def _identity(entry: Mapping[str, Any]) -> str:
    primary = " (primary)" if entry.get("primary") else ""
    return f"{_e(entry.get('column'))} → {_e(entry.get('namespace'))}{primary}"


def _unknown(entry: Mapping[str, Any]) -> str:
    text = _e(entry.get("column"))
    suggestions = [str(s) for s in _list(entry.get("did_you_mean"))]
    if suggestions:
        text += " — did you mean " + _e(", ".join(suggestions)) + "?"
    if entry.get("hint"):
        text += f" ({_e(entry['hint'])})"
    return text


def _warnings(warnings: Any) -> str:
    items = [_mapping(w) for w in _list(warnings)]
    if not items:
        return ""
    return (
        '<section id="warnings"><h2>Warnings</h2>'
        + "".join(
            f'<p class="warn"><code>{_e(w.get("code") or "")}</code> {_e(w.get("message"))}</p>'
            for w in items
        )
        + "</section>"
    )


def _requests(report: Mapping[str, Any]) -> str:
    requests = _mapping(report.get("requests"))
    final = _counts(requests.get("final_by_status") or report.get("requests_by_status"))
    attempts = _counts(requests.get("attempts_by_status"))
    timings = _mapping(report.get("timings"))
    remote = _mapping(report.get("remote"))
    moments = [
        ("received", timings.get("received_at")),
        ("split done", timings.get("split_done_at")),
        ("committed", remote.get("committed_at")),
        ("finished", timings.get("finished_at")),
    ]
    timeline = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(moment)}</td></tr>" for name, moment in moments if moment
    )
    duration = timings.get("duration_seconds")
    return (
        '<section id="requests"><h2>Requests and timings</h2>'
        + _figures(
            [
                ("requests sent", _int(report.get("requests_sent"))),
                ("attempts", _int(requests.get("attempts"))),
                ("retry wait", f"{_float(requests.get('retry_wait_seconds')):.1f} s"),
                ("chunks", _int(report.get("chunks"))),
                ("duration", "—" if duration is None else f"{_float(duration):.0f} s"),
            ]
        )
        + ("<h3>Final answer by status</h3>" + _bar_chart(_status_bars(final)) if final else "")
        + _over_time(report.get("requests_over_time"), sum(n for s, n in final if s != "dry_run"))
        + (
            "<h3>Every attempt by status (retries included)</h3>"
            + _bar_chart(_status_bars(attempts))
            if attempts
            else ""
        )
        + (f"<h3>Timeline (UTC)</h3><table>{timeline}</table>" if timeline else "")
        + "</section>"
    )


_CLASS_SHADES = {
    "2xx": (GREEN, "#66bb6a", "#1b5e20"),
    "429": (AMBER,),
    "5xx": (RED, "#ef5350", "#8e0000"),
    "other": ("#6a1b9a", "#ab47bc", "#4a148c"),
}
"""Colours of each status class (2xx green, 429 amber, 5xx red, any other — a refusal, an
``error`` without a status — purple); statuses of one class take its shades in turn."""
_CHART_W, _CHART_H = 1000, 260
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 80, 990, 16, 212
_MIN_SLOTS = 12
"""A short series' bars are as wide as in a 12-bar chart (one minute is not one wide block)."""
_TICKS = 6


def _status_class(status: str) -> str:
    if status.startswith("2"):
        return "2xx"
    if status == "429":
        return "429"
    if status.startswith("5"):
        return "5xx"
    return "other"


def _status_colours(statuses: Iterable[str]) -> dict[str, str]:
    """Each status's colour: its class's (:data:`_CLASS_SHADES`), a shade apart from the other
    statuses of its class, in a stable order (class, then status)."""
    order = {name: i for i, name in enumerate(_CLASS_SHADES)}
    colours: dict[str, str] = {}
    used: dict[str, int] = {}
    for status in sorted(set(statuses), key=lambda s: (order[_status_class(s)], s)):
        shades = _CLASS_SHADES[_status_class(status)]
        colours[status] = shades[used.get(_status_class(status), 0) % len(shades)]
        used[_status_class(status)] = used.get(_status_class(status), 0) + 1
    return colours


def _over_time(series: Any, requests: int) -> str:
    """The requests by final status over time: an SVG of stacked bars (one per bucket of 1, 5,
    15… minutes, at most 60), a sentence saying what it shows, and the same as a table."""
    points: list[tuple[int, dict[str, int]]] = []
    for entry in _list(series):
        point = _mapping(entry)
        minute = parse_minute(str(point.get("minute") or ""))
        counts = {s: n for s, n in _counts(point.get("requests"), ordered=False) if n > 0}
        if minute is not None and counts:
            points.append((minute, counts))
    width, bars = buckets(points)
    if not bars:
        return ""
    colours = _status_colours(s for bar in bars for s in bar.requests)
    totals = {s: sum(bar.requests.get(s, 0) for bar in bars) for s in colours}
    timed = sum(totals.values())
    first, last = bars[0].start, bars[-1].start + width
    busiest = max(bars, key=lambda bar: bar.total)
    span = f"{_clock(first, 'full')} – {_clock(last, 'full')} UTC"
    noun = "request" if timed == 1 else "requests"
    summary = (
        f"{timed} {noun} answered from {span}, in bars of {_width_label(width)}; by status: "
        + ", ".join(f"{status} {count}" for status, count in totals.items())
        + f"; the busiest bar, from {_clock(busiest.start, 'full')}, has {busiest.total}"
    )
    untimed = requests - timed
    return (
        '<h3>Requests over time (UTC)</h3><div class="scroll" id="requests-over-time">'
        + _time_svg(bars, width, colours, summary)
        + "</div>"
        + _legend([(status, totals[status], colour) for status, colour in colours.items()])
        + f'<p class="muted" id="requests-over-time-summary">{_e(summary)}.</p>'
        + (
            f'<p class="muted">{untimed} more requests have no recorded time (counted by a '
            "release that kept none).</p>"
            if untimed > 0
            else ""
        )
        + _time_table(bars, width, list(colours))
    )


def _time_svg(bars: Sequence[Bucket], width: int, colours: Mapping[str, str], summary: str) -> str:
    top = max(bar.total for bar in bars) or 1
    plot_w, plot_h = _PLOT_RIGHT - _PLOT_LEFT, _PLOT_BOTTOM - _PLOT_TOP
    slot = plot_w / max(len(bars), _MIN_SLOTS)
    parts = [
        f'<line x1="{_PLOT_LEFT}" y1="{_PLOT_BOTTOM}" x2="{_PLOT_RIGHT}" y2="{_PLOT_BOTTOM}" '
        'stroke="#5f6368"/>',
        f'<line x1="{_PLOT_LEFT}" y1="{_PLOT_TOP}" x2="{_PLOT_RIGHT}" y2="{_PLOT_TOP}" '
        'stroke="#dde1e6"/>',
        f'<text x="{_PLOT_LEFT - 8}" y="{_PLOT_TOP + 7}" text-anchor="end">{top}</text>',
        f'<text x="{_PLOT_LEFT - 8}" y="{_PLOT_BOTTOM}" text-anchor="end">0</text>',
    ]
    step = -(-len(bars) // _TICKS)
    span_days = bars[0].start // 1440 != (bars[-1].start + width - 1) // 1440
    style = "day" if width >= 1440 else "dated" if span_days else "time"
    for i, bar in enumerate(bars):
        x = _PLOT_LEFT + i * slot
        if i % step == 0:
            parts.append(
                f'<line x1="{x:.1f}" y1="{_PLOT_BOTTOM}" x2="{x:.1f}" y2="{_PLOT_BOTTOM + 6}" '
                'stroke="#5f6368"/>'
                f'<text x="{x:.1f}" y="{_PLOT_BOTTOM + 28}" text-anchor="middle">'
                f"{_e(_clock(bar.start, style))}</text>"
            )
        if not bar.total:
            continue
        y = float(_PLOT_BOTTOM)
        rects = []
        for status, count in bar.requests.items():
            height = plot_h * count / top
            y -= height
            rects.append(
                f'<rect x="{x + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
                f'height="{height:.1f}" fill="{colours[status]}"/>'
            )
        label = f"{_clock(bar.start, 'full')} UTC, {_width_label(width)}: " + ", ".join(
            f"{status} {count}" for status, count in bar.requests.items()
        )
        parts.append(f"<g><title>{_e(label)}</title>{''.join(rects)}</g>")
    parts.append(
        f'<text x="{_PLOT_RIGHT}" y="{_CHART_H - 4}" text-anchor="end" fill="#5f6368">'
        f"each bar: {_e(_width_label(width))}</text>"
    )
    return (
        f'<svg viewBox="0 0 {_CHART_W} {_CHART_H}" role="img" '
        'aria-labelledby="requests-over-time-title requests-over-time-desc" '
        'font-size="20" style="height:auto;min-width:480px">'
        '<title id="requests-over-time-title">Requests by final status over time</title>'
        f'<desc id="requests-over-time-desc">{_e(summary)}</desc>' + "".join(parts) + "</svg>"
    )


def _time_table(bars: Sequence[Bucket], width: int, statuses: Sequence[str]) -> str:
    head = "".join(f'<th class="n">{_e(status)}</th>' for status in statuses)
    rows = "".join(
        f"<tr><td>{_e(_clock(bar.start, 'full'))}</td>"
        + "".join(f'<td class="n">{bar.requests.get(status, 0)}</td>' for status in statuses)
        + f'<td class="n">{bar.total}</td></tr>'
        for bar in bars
        if bar.total
    )
    return (
        f"<details><summary>The same as a table (bars of {_e(_width_label(width))})</summary>"
        '<div class="scroll"><table id="requests-over-time-table"><tr><th>from (UTC)</th>'
        f'{head}<th class="n">total</th></tr>{rows}</table></div></details>'
    )


def _clock(minute: int, style: str) -> str:
    """An epoch minute as the chart labels it: ``full`` (date and time), ``dated`` (month-day
    and time), ``day`` (month-day) or ``time`` (hours and minutes)."""
    formats = {"full": "%Y-%m-%d %H:%M", "dated": "%m-%d %H:%M", "day": "%m-%d", "time": "%H:%M"}
    return time.strftime(formats[style], time.gmtime(minute * 60))


def _width_label(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "1 day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _status_bars(counts: Iterable[tuple[str, int]]) -> list[tuple[str, int, str]]:
    """A bar per status, in its class's colour (as in the chart over time)."""
    return [
        (status, n, GREY if status == "dry_run" else _CLASS_SHADES[_status_class(status)][0])
        for status, n in counts
    ]


def _destination(report: Mapping[str, Any]) -> str:
    ids = [str(i) for i in _list(report.get("ingress_ids"))]
    remote = _mapping(report.get("remote"))
    if not ids and not remote:
        return ""
    parts = ['<section id="destination"><h2>The destination\'s results</h2>']
    if ids:
        shown = "".join(f"<li><code>{_e(i)}</code></li>" for i in ids[:MAX_LIST])
        more = f"<li>… and {len(ids) - MAX_LIST} more</li>" if len(ids) > MAX_LIST else ""
        parts.append(f"<h3>Ingress ids ({len(ids)})</h3><ul>{shown}{more}</ul>")
    if remote:
        succeeded = remote.get("succeeded")
        parts.append(
            f'<p>remote status: <b id="remote-status">{_e(remote.get("status"))}</b>'
            + ("" if succeeded is None else f" ({'succeeded' if succeeded else 'not succeeded'})")
            + "</p>"
        )
        for title, values in (
            ("Facts", remote.get("facts")),
            ("Failed by reason", remote.get("failed_by_reason")),
            ("Session", remote.get("session")),
        ):
            table = _mapping(values)
            if table:
                parts.append(f"<h3>{title}</h3>" + _key_values(table))
    return "".join(parts) + "</section>"


def _details(report: Mapping[str, Any], file: Mapping[str, Any]) -> str:
    rows: dict[str, Any] = {
        "bucket": file.get("bucket"),
        "version id": file.get("version_id"),
        "ETag": file.get("etag"),
        "size (bytes)": file.get("size"),
        "encoding": report.get("encoding"),
    }
    for reason, count in _counts(report.get("lines_skipped")):
        rows[f"lines skipped: {reason}"] = count
    return '<section id="file"><h2>The file</h2>' + _key_values(rows) + "</section>"


# -- building blocks -----------------------------------------------------------------------


def _figures(figures: Iterable[tuple[str, Any]]) -> str:
    return (
        '<div class="figures">'
        + "".join(
            f'<div class="figure" data-figure="{_e(name)}"><b>{_e(value)}</b>'
            f'<span class="muted">{_e(name)}</span></div>'
            for name, value in figures
        )
        + "</div>"
    )


def _stacked_bar(parts: Sequence[tuple[str, int, str]]) -> str:
    """One bar, its segments proportional to the parts' counts (an empty file: a grey bar)."""
    total = sum(value for _, value, _ in parts)
    rects = []
    x = 0.0
    for name, value, colour in parts:
        if value <= 0:
            continue
        width = 1000 * value / total
        rects.append(
            f'<rect x="{x:.2f}" y="0" width="{width:.2f}" height="40" fill="{colour}">'
            f"<title>{_e(name)}: {value}</title></rect>"
        )
        x += width
    if not rects:
        rects.append(f'<rect x="0" y="0" width="1000" height="40" fill="{GREY}"/>')
    return (
        '<svg viewBox="0 0 1000 40" preserveAspectRatio="none" role="img" '
        f'aria-label="balance" style="height:36px">{"".join(rects)}</svg>'
    )


def _legend(parts: Sequence[tuple[str, int, str]]) -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{colour}"></i>{_e(name)} {value}</span>'
            for name, value, colour in parts
        )
        + "</p>"
    )


def _bar_chart(bars: Sequence[tuple[str, int, str]], *, scale: int | None = None) -> str:
    """Horizontal bars, one per ``(label, value, colour)``; lengths relative to ``scale`` (the
    largest value by default). More than :data:`MAX_BARS` bars: the rest are one "others".

    Each row is HTML text around an SVG bar, so labels keep their size on a phone's width
    (text inside one scaled SVG would shrink with it)."""
    if len(bars) > MAX_BARS:
        rest = sum(value for _, value, _ in bars[MAX_BARS - 1 :])
        bars = [*bars[: MAX_BARS - 1], (f"{len(bars) - MAX_BARS + 1} others", rest, GREY)]
    if not bars:
        return ""
    top = scale or max((value for _, value, _ in bars), default=1) or 1
    rows = []
    for label, value, colour in bars:
        length = max(100 * min(value, top) / top, 0.5 if value else 0)
        rows.append(
            f'<div class="bar" title="{_e(label)}: {value}"><span>{_e(label)}</span>'
            '<svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect x="0" y="0" width="{length:.2f}" height="10" fill="{colour}"/></svg>'
            f'<span class="n">{value}</span></div>'
        )
    return f'<div class="bars" role="img">{"".join(rows)}</div>'


def _key_values(values: Mapping[str, Any]) -> str:
    return (
        '<div class="scroll"><table>'
        + "".join(
            f"<tr><th>{_e(name)}</th><td>{_e('—' if value is None else value)}</td></tr>"
            for name, value in values.items()
        )
        + "</table></div>"
    )


# -- untrusted values ----------------------------------------------------------------------


def _e(value: Any) -> str:
    """Text for an element's content or a quoted attribute: ``& < > " '`` escaped."""
    return html.escape(str(value), quote=True)


def _maybe(value: Any) -> str:
    return "—" if value is None else str(_int(value))


def _int(value: Any) -> int:
    """A count from the report (anything that is not a number counts as 0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return 0


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _counts(value: Any, *, ordered: bool = True) -> list[tuple[str, int]]:
    """A ``{name: count}`` section as ``(name, count)`` pairs — largest first, unless the
    report's own order is kept (``ordered=False``)."""
    pairs = [(str(name), _int(count)) for name, count in _mapping(value).items()]
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0])) if ordered else pairs
