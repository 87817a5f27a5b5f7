"""ParityReport renderings: rows on demand, tables large and small, HTML, JSON, drawing."""

from __future__ import annotations

import json

import pytest

from twingrad import Value
from twingrad.examples import seed_graph
from twingrad.parity import compare
from twingrad.parity.rendering import html_table, json_number, jsonable, text_table


def chain(n: int) -> Value:
    x = Value(0.1, label="x")
    y = x
    for _ in range(n):
        y = (y * 1.01).tanh() + 0.1
    return y


def test_rows_are_a_sequence_made_on_demand() -> None:
    report = compare(seed_graph()["L"])
    rows = report.rows
    assert len(rows) == 7
    assert rows[-1].name == "L" and rows[-1] == rows[6]
    assert [r.name for r in rows[1:3]] == ["b", "e"]
    assert [r.position for r in rows] == list(range(7))
    with pytest.raises(IndexError):
        rows[7]
    row = rows[2]
    assert (row.kind, row.op, row.label, row.status) == ("op", "mul", "e", "ok")
    assert row.data_ok and row.grad_ok and not row.culprit


def test_text_table_of_a_large_graph_keeps_to_the_mismatches() -> None:
    root = chain(30)
    report = compare(root)
    assert len(report) > 100 and report.ok
    assert "more rows, all agreeing with torch" in report.table()
    some = report.rows[50]
    Value.__setattr__(report.plan.nodes[50], "grad", some.engine_grad * 2)
    broken = compare(root, backward=False)
    text = str(broken)
    assert "diverged *" in text
    assert len(text.splitlines()) < 60


def test_html_shows_both_sides_and_highlights_mismatches() -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["b"].grad = 1.0
    page = compare(nodes["L"], backward=False)._repr_html_()
    assert page.count("<tr>") == 8  # header + 7 nodes
    assert 'class="tg-bad"' in page and "tg-culprit" in page
    assert "grad torch" in page and 'class="tg-side"' in page
    assert "e = a * b" in page


def test_html_table_escapes_text() -> None:
    page = html_table(["<h>"], [[("a < b & c", "tg-bad")]], "caption <i>")
    assert "&lt;h&gt;" in page and "a &lt; b &amp; c" in page and "caption &lt;i&gt;" in page
    assert '<td class="tg-bad">' in page


def test_to_dict_rows_option() -> None:
    report = compare(seed_graph()["L"])
    assert len(report.to_dict()["rows"]) == 7
    assert report.to_dict(rows="mismatched")["rows"] == []
    assert report.to_dict(rows="none")["rows"] == []
    with pytest.raises(ValueError, match="rows must be"):
        report.to_dict(rows="some")
    json.dumps(report.to_dict(), allow_nan=False)


def test_json_numbers() -> None:
    assert [json_number(x) for x in (1.5, float("nan"), float("inf"), float("-inf"), None)] == [
        1.5, "nan", "inf", "-inf", None
    ]
    assert jsonable({"a": [float("nan"), (2.0,)], "b": "x"}) == {"a": ["nan", [2.0]], "b": "x"}


def test_text_table_alignment() -> None:
    assert text_table(["a", "bb"], [["xyz", "1"]]) == "a    bb\n---  --\nxyz  1"


def test_repr_and_summary_of_an_ok_report() -> None:
    report = compare(seed_graph()["L"])
    assert repr(report) == "<ParityReport 7 nodes: ok>"
    expected = "engine vs torch: all 7 nodes agree (data and grad; rtol 1e-10, atol 1e-300)"
    assert report.summary.startswith(expected)


def test_report_draws_itself() -> None:
    dot = compare(seed_graph()["L"]).draw()
    assert "(torch -8.0000)" in dot.source
