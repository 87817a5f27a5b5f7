"""A teacher's class report: the overview names the diagnosis, and the drawings can be read.

One real batch (a learner whose tanh derivative uses the input, the lecture's `=` bug, a
correct engine), rendered by each class report: the terminal table, the HTML page and
GitHub's step summary. Then the HTML page in headless Chromium at a laptop's screen size
(1366x768): the close-up around the culprit is shown at a size its labels can be read at,
the whole graph only once its ``<details>`` is opened; a screenshot is kept.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from twingrad.check.batch import BatchRun, run_batch
from twingrad.check.picture import CLOSE_UP
from twingrad.check.reports.github import step_summary
from twingrad.check.reports.html import READABLE, html_page
from twingrad.check.reports.terminal import batch_table

from .browser import open_page

ROOT = Path(__file__).resolve().parents[1]
TANH = ROOT / "tests" / "engines" / "learners" / "tanh_one_minus_x2.py"
WRONG = ROOT / "tests" / "engines" / "classroom" / "wrong.py"
CORRECT = ROOT / "tests" / "engines" / "classroom" / "correct.py"
MISCONCEPTION = "your tanh derivative equals 1 − x² (x the input), not 1 − tanh(x)²"


@pytest.fixture(scope="module")
def batch() -> BatchRun:
    targets = [f"{TANH}:Value", f"{WRONG}:Value", f"{CORRECT}:Value"]
    return run_batch(targets, jobs=2, only=["lecture_neuron", "reuse_a_plus_a"], draw=True)


def _tanh_line() -> int:
    """The line of the wrong derivative: inside tanh's ``_backward``, where the checker points."""
    return next(n for n, text in enumerate(TANH.read_text().splitlines(), 1) if "1 - self.data**2" in text)


def test_the_first_problem_names_the_misconception_the_function_and_the_line(batch: BatchRun) -> None:
    tanh, wrong, correct = batch.outcomes
    assert tanh.first_problem() == (
        f"lecture_neuron (fail): {MISCONCEPTION} "
        f"-- Value.tanh._backward() at tanh_one_minus_x2.py:{_tanh_line()}"
    )
    # No misconception named (an `=` bug has no one op to blame): the verdict's own diagnosis.
    assert wrong.first_problem() == (
        "reuse_a_plus_a (fail): a is used 2 times (n1 = a + a) but its gradient 1 is only 1 of their 2 "
        "shares (their sum is 2): a backward overwrites gradients (`=`) where they must add up (`+=`)"
    )
    assert correct.first_problem() == ""


def test_every_class_report_shows_that_first_problem(batch: BatchRun) -> None:
    line = batch.outcomes[0].first_problem()
    console = Console(file=io.StringIO(), width=400, record=True, color_system=None)
    console.print(batch_table(batch, 400))
    assert line in console.export_text()
    page = html_page(batch)
    targets = page[page.index('<table id="targets">'):page.index("</table>")]
    assert line in targets
    # Markdown escapes its punctuation with backslashes: read the table as GitHub shows it.
    rows = [re.sub(r"\\(.)", r"\1", r) for r in step_summary(batch).splitlines() if r.startswith("| ")]
    assert any(r.startswith(f"| {TANH}:Value |") and r.endswith(f"| {line} |") for r in rows), rows


def test_a_failure_is_drawn_close_up_first_and_whole_on_a_click(batch: BatchRun) -> None:
    result = batch.outcomes[0].run.result("lecture_neuron")
    assert result.svg is not None and result.svg.excerpt is not None
    assert result.svg.excerpt.count("<title>n") < str(result.svg).count("<title>n")  # fewer nodes
    small = batch.outcomes[1].run.result("reuse_a_plus_a")
    assert small.svg is not None and small.svg.excerpt is None  # a graph no larger than a close-up
    page = html_page(batch)
    assert page.count('<details class="whole">') == 1 and page.count('class="drawing"') == 3


def test_the_drawings_read_at_a_laptops_screen_size(batch: BatchRun, tmp_path: Path) -> None:
    page_file = tmp_path / "class.html"
    page_file.write_text(html_page(batch), encoding="utf-8")
    shot = tmp_path / "class-1366x768.png"
    # Scroll to the first failure as a reader following the table's link would; measure each image.
    facts = """(() => {
        document.querySelector('div.failure').scrollIntoView();
        const seen = img => { const r = img.getBoundingClientRect();
            return {natural: img.naturalWidth, shown: r.width,
                    visible: img.checkVisibility() && r.top < innerHeight}; };
        const failure = document.querySelector('div.failure');
        const before = [...failure.querySelectorAll('img.drawing')].map(seen);
        const frame = failure.querySelector('details.whole div.frame');
        failure.querySelector('details.whole').open = true;
        const after = seen(failure.querySelector('details.whole img'));
        failure.querySelector('details.whole').open = false;
        return JSON.stringify({before, after, scrolls: frame.scrollWidth > frame.clientWidth,
                               pageWidth: document.documentElement.scrollWidth});
    })()"""
    seen = open_page(page_file.as_uri(), expression=facts, screenshot=shot, width=1366, height=768,
                     full_page=False)
    assert seen.errors() == [], seen.errors()
    assert all(url == page_file.as_uri() or url.startswith("data:") for url in seen.requests)
    facts = json.loads(seen.value)
    close_up, whole = facts["before"]
    # graphviz draws in points, 4/3 of a CSS pixel each: shown at READABLE pixels per point.
    for image in (close_up, facts["after"]):
        assert image["shown"] == pytest.approx(image["natural"] * 0.75 * READABLE, abs=2)
    assert close_up["visible"] and close_up["shown"] <= 1366  # the close-up fits the screen
    assert not whole["visible"], facts  # the whole graph waits behind its <details>
    assert facts["after"]["visible"] and facts["scrolls"]  # opened, it scrolls inside its frame
    assert facts["pageWidth"] <= 1366  # the page itself never scrolls sideways
    assert shot.stat().st_size > 10_000
    print(f"screenshot ({CLOSE_UP}-node close-up at 1366x768): {shot}")
