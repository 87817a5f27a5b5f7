"""A batch as one self-contained HTML page: open it from a file, mail it, attach it to a CI run.

The page makes no request of any kind: no script, no font, no stylesheet from elsewhere,
and a Content-Security-Policy that forbids them, so a page that would try shows it in the
browser's console (the browser test watches that console). Drawings are embedded as
``data:`` images rather than as inline ``<svg>`` markup: an image cannot run script or
fetch anything, whatever an engine's labels put into graphviz's output.

Layout: the summary line, a table of targets (each linking to its section), then per
target its verdict table and, for each failing case, the misconception, the engine's
``file:line`` and the drawing (culprit in red, the expected values beside the engine's).

A drawing is shown at a size its labels can be read at (`READABLE`), never shrunk to the
page: first the close-up around the culprit (`twingrad.check.picture`), then the whole
graph inside a ``<details>`` the reader opens with a click -- no script needed. A frame
wider than the page scrolls.
"""

from __future__ import annotations

import base64
import html
import re

from ..batch import OK, UNLOADABLE, BatchRun, TargetOutcome
from ..result import BAD, CaseResult
from .text import case_detail, printable

_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 84em; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.detail, p.detail { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 90%;
  font-family: ui-monospace, monospace; }
.v-OK, .v-pass { color: #08722e; font-weight: bold; }
.v-FAIL, .v-fail, .v-error, .v-timeout { color: #b00020; font-weight: bold; }
.v-cannot-load { color: #8a1f8a; font-weight: bold; }
.v-note { color: #8a6d00; } .v-unsupported { color: #777; }
section.target { border-top: 2px solid #ddd; margin-top: 2em; }
div.failure { margin: 1em 0 2em; padding-left: 1em; border-left: 4px solid #b00020; }
div.frame { overflow: auto; max-height: 85vh; margin-top: 0.5em; border: 1px solid #e4e4e4; }
img.drawing { max-width: none; height: auto; display: block; }
details.whole { margin-top: 0.5em; } details.whole summary { cursor: pointer; color: #0645ad; }
p.caption { margin: 0.5em 0 0; font-size: 90%; color: #555; }
p.source code, p.misconception { font-size: 95%; }
"""


def _e(text: str) -> str:
    return html.escape(printable(text))


def _class(verdict: str) -> str:
    return "v-" + re.sub(r"[^A-Za-z0-9]+", "-", verdict)


def _anchor(index: int, case: str | None = None) -> str:
    # Positions, not names: a target's name can hold anything, an id must not.
    return f"t{index}" if case is None else f"t{index}-{re.sub(r'[^A-Za-z0-9_]+', '-', case)}"


def _targets_table(batch: BatchRun) -> str:
    rows = [
        f'<tr><td><a href="#{_anchor(i)}">{_e(o.target)}</a></td>'
        f'<td class="{_class(o.verdict)}">{_e(o.verdict)}</td><td>{_e(o.counts())}</td>'
        f'<td class="detail">{_e(o.first_problem())}</td></tr>'
        for i, o in enumerate(batch.outcomes)
    ]
    head = "<tr><th>target</th><th>verdict</th><th>cases</th><th>first problem</th></tr>"
    return f'<table id="targets">\n{head}\n' + "\n".join(rows) + "\n</table>"


def _verdicts_table(index: int, outcome: TargetOutcome) -> str:
    assert outcome.run is not None
    rows = []
    for r in outcome.run.results:
        name = _e(r.name)
        if r.status in BAD:
            name = f'<a href="#{_anchor(index, r.name)}">{name}</a>'
        rows.append(f'<tr><td>{name}</td><td>{_e(" ".join(r.ops))}</td>'
                    f'<td class="{_class(r.status)}">{_e(r.status)}</td>'
                    f'<td class="detail">{_e(case_detail(r))}</td></tr>')
    head = "<tr><th>case</th><th>ops</th><th>verdict</th><th>first mismatch / detail</th></tr>"
    return '<table class="verdicts">\n' + head + "\n" + "\n".join(rows) + "\n</table>"


def _failure(index: int, result: CaseResult) -> str:
    parts = [f'<div class="failure" id="{_anchor(index, result.name)}">',
             f'<h3>{_e(result.name)} <span class="{_class(result.status)}">{_e(result.status)}</span></h3>',
             f'<p class="detail">{_e(case_detail(result))}</p>']
    if result.misconception:
        parts.append(f'<p class="misconception"><b>Misconception:</b> {_e(result.misconception)}</p>')
    if result.source is not None:
        fn = f" in <code>{_e(result.source.function)}</code>" if result.source.function else ""
        parts.append(f'<p class="source">Engine source: <code>{_e(str(result.source))}</code>{fn}</p>')
    if result.svg:
        parts.append(_drawings(result))
    parts.append("</div>")
    return "\n".join(parts)


READABLE = 0.9  # CSS pixels per point of graphviz's drawing: its 14 pt labels at about 12.6 px
_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="([0-9.]+)pt"')


def _image(svg: str, alt: str) -> str:
    """The drawing as a ``data:`` image at `READABLE` size, in a frame that scrolls when it is wider."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    size = _SIZE.search(svg)
    width = f' style="width: {float(size.group(1)) * READABLE:.0f}px"' if size else ""
    return (f'<div class="frame"><img class="drawing"{width} alt="{_e(alt)}" '
            f'src="data:image/svg+xml;base64,{data}"></div>')


def _drawings(result: CaseResult) -> str:
    """The close-up around the culprit, and the whole graph on a click; or the whole alone when small."""
    whole = str(result.svg)
    close_up = getattr(result.svg, "excerpt", None)
    alt = f"the graph of {result.name}: culprit in red, the expected values beside the engine's"
    if not close_up:
        return _image(whole, alt)
    return "\n".join([
        '<p class="caption">Around the culprit (top to bottom):</p>',
        _image(str(close_up), f"the nodes nearest the culprit in {result.name}"),
        '<details class="whole"><summary>The whole graph (left to right)</summary>',
        _image(whole, alt),
        "</details>",
    ])


def _section(index: int, outcome: TargetOutcome) -> str:
    parts = [f'<section class="target" id="{_anchor(index)}">',
             f'<h2>{_e(outcome.target)} '
             f'<span class="{_class(outcome.verdict)}">{_e(outcome.verdict)}</span></h2>']
    if outcome.run is None:
        parts.append(f'<p class="detail">{_e(outcome.error or "")}</p>')
    else:
        run = outcome.run
        parts.append(f"<p>{_e(run.summary_line())} &middot; torch {_e(run.torch_version)}</p>")
        parts.append(_verdicts_table(index, outcome))
        parts += [_failure(index, r) for r in outcome.problems()]
    parts.append("</section>")
    return "\n".join(parts)


def html_page(batch: BatchRun) -> str:
    """The whole page as text (UTF-8)."""
    title = _e(f"twingrad check: {batch.summary_line()}")
    verdict = OK if batch.ok else ("FAIL" if batch.tally[UNLOADABLE] == 0 else UNLOADABLE)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>twingrad check</h1>",
        f'<p id="summary" class="{_class(verdict)}">{_e(batch.summary_line())}</p>',
        _targets_table(batch),
        *(_section(i, o) for i, o in enumerate(batch.outcomes)),
        "</body>",
        "</html>",
        "",
    ])
