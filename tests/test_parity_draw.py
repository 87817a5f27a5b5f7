"""The drawing with a parity report: torch's numbers beside the engine's, mismatches in red."""

from __future__ import annotations

import re

import numpy as np
import pytest

from twingrad import Value
from twingrad.draw import draw_dot, save_graph
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.parity import compare, compare_nudge


def node_line(source: str, name: str) -> str:
    (line,) = [line for line in source.splitlines() if line.strip().startswith(f"{name} [")]
    return line


def cells(line: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", line)


def test_torch_values_beside_the_engines_and_only_the_differing_quantity_red() -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["b"].grad = 0.0
    report = compare(nodes["L"], backward=False)
    source = draw_dot(nodes["L"], report=report).source
    b = node_line(source, "n1")
    label, data, grad = cells(b)
    assert label == "b" and data == "data -3.0000 (torch -3.0000)"  # data agrees: not coloured
    assert grad == '<font color="red"><b>grad 0.0000 (torch -4.0000)</b></font>'
    assert 'border="2"' in b and 'color="red"' in b and "bgcolor" in b  # the culprit: thick, red, tinted
    for ok in ("n0", "n2", "n6"):
        assert "color=" not in node_line(source, ok)
    # b's gradient comes from e = a * b: that op node is the suspect, and the only red op
    assert 'n2_op [label="*" color=red fontcolor=red penwidth=3]' in source
    assert source.count("fontcolor=red") == 1


def test_inherited_mismatches_are_orange_and_thin_the_culprit_red_and_thick() -> None:
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["d"].grad, nodes["e"].grad = 5.0, 5.0
    report = compare(nodes["L"], backward=False)
    assert report.culprits() == {4}  # d; e only inherits d's wrong gradient
    source = draw_dot(nodes["L"], report=report).source
    d, e = node_line(source, "n4"), node_line(source, "n2")
    assert 'border="2"' in d and 'color="red"' in d
    assert 'border="0"' in e and 'color="darkorange"' in e and "red" not in e
    assert cells(e)[2] == '<font color="darkorange">grad 5.0000 (torch -2.0000)</font>'
    # d's gradient flows back from L = d * f: that op node is the suspect, not d's own +
    assert 'n6_op [label="*" color=red fontcolor=red penwidth=3]' in source
    assert 'n4_op [label="+"]' in source and 'n2_op [label="*"]' in source


def test_an_excerpt_keeps_the_suspect_op_the_text_names() -> None:
    from twingrad import nn
    from twingrad.ops import op_named

    model = nn.MLP(3, [4, 4, 1], rng=0)
    out = model([Value(0.5), Value(-1.0), Value(2.0)])
    out.backward()
    report_ok = compare(out, backward=False)
    assert report_ok.ok
    # A wrong gradient written into the input of one tanh: the text suspects that tanh.
    tanh = op_named("tanh")
    k = max(i for i, step in enumerate(report_ok.plan.steps) if step is tanh)
    (inner,) = report_ok.plan.operands[k]
    report_ok.plan.nodes[inner].grad *= 0.5
    report = compare(out, backward=False)
    (culprit, quantity) = report.first_divergences()[0]
    assert (culprit, quantity) == (inner, "grad") and report.suspects(inner, "grad") == ["tanh"]
    keep = report.around(size=12)
    assert inner in keep and k in keep and len(keep) <= 13
    source = report.draw(positions=keep).source
    assert f'n{k}_op [label=tanh color=red fontcolor=red penwidth=3]' in source
    assert source.count("penwidth=3") == 1  # and no other op is marked
    assert all(f"n{i} [" in source for i in keep) and source.count(" [label=<") == len(keep)
    assert f'n{report.culprits().pop()} [label=<<table border="2"' in source


def test_a_drawing_after_a_nudge_says_its_gradients_predate_it() -> None:
    from twingrad import nudge

    nodes = seed_graph()
    nodes["L"].backward()
    assert "grad still from the backward() before it" not in draw_dot(nodes["L"]).source
    nudge(nodes["L"], 0.01)
    assert "grad still from the backward() before it" in draw_dot(nodes["L"]).source
    nodes["L"].backward()
    assert "grad still from the backward() before it" not in draw_dot(nodes["L"]).source
    nudged = compare_nudge(seed_graph()["L"], 0.01)
    assert "grad (both sides) from before it" in nudged.after.draw().source


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
