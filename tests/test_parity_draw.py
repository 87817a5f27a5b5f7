"""The drawing with a parity report: torch's numbers beside the engine's, mismatches in red."""

from __future__ import annotations

import re

import numpy as np
import pytest

from twingrad.draw import draw_dot, save_graph
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.parity import compare


def node_line(source: str, name: str) -> str:
    (line,) = [line for line in source.splitlines() if line.strip().startswith(f"{name} [")]
    return line


def test_torch_values_beside_the_engines_and_the_culprit_in_red() -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["b"].grad = 0.0
    report = compare(nodes["L"], backward=False)
    source = draw_dot(nodes["L"], report=report).source
    b = node_line(source, "n1")
    assert "grad 0.0000 (torch -4.0000)" in b and "data -3.0000 (torch -3.0000)" in b
    assert "color=red" in b and "penwidth=3" in b
    for ok in ("n0", "n2", "n6"):
        assert "color=red" not in node_line(source, ok)
    # b's gradient comes from e = a * b: that op node is the suspect
    assert 'n2_op [label="*" color=red fontcolor=red penwidth=3]' in source
    assert source.count("fontcolor=red") == 2


def test_inherited_mismatches_are_red_without_the_thick_border() -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["d"].grad, nodes["e"].grad = 5.0, 5.0
    report = compare(nodes["L"], backward=False)
    source = draw_dot(nodes["L"], report=report).source
    d, e = node_line(source, "n4"), node_line(source, "n2")
    assert "penwidth=3" in d and "color=red" in d
    assert "color=red" in e and "penwidth" not in e  # e only inherits d's wrong gradient
    assert "n2_op [label=\"*\" color=red" in source  # the op node of a red value is red too
    # d's gradient flows back from L = d * f: that op node is the suspect, not d's own +
    assert 'n6_op [label="*" color=red fontcolor=red penwidth=3]' in source
    assert "n4_op [label=\"+\" color=red fontcolor=red]" in source


def test_a_difference_hidden_by_four_decimals_is_shown_in_full() -> None:
    nodes = lecture_neuron()
    nodes["n"].data = float(np.float32(nodes["n"].data))
    source = compare(nodes["o"]).draw().source
    assert "data 0.8813735842704773 (torch 0.8813735870195432)" in source
    assert "data 0.7071 (torch 0.7071)" in source  # o agrees: four decimals


def test_report_must_match_the_graph() -> None:
    report = compare(seed_graph()["L"])
    with pytest.raises(ValueError, match="report has 7 rows but the graph has 1 nodes"):
        draw_dot(seed_graph()["a"], report=report)


def test_overlay_renders_to_svg(tmp_path) -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["a"].grad = 1.0
    path = save_graph(nodes["L"], tmp_path / "overlay.svg", report=compare(nodes["L"], backward=False))
    svg = path.read_text()
    assert re.search(r'stroke="red"', svg) and "torch 6.0000" in svg
