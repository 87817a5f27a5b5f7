"""Drawings: the seed's look, deterministic DOT text, real files rendered by `dot`."""

from __future__ import annotations

import shutil

import graphviz
import pytest

from twingrad import Value
from twingrad.draw import draw_dot, save_graph
from twingrad.examples import seed_graph

# The seed graph after backward(), exactly as draw_dot writes it.
SEED_DOT = """digraph {
	graph [rankdir=LR]
	n0 [label="{ a | data 2.0000 | grad 6.0000 }" shape=record]
	n1 [label="{ b | data -3.0000 | grad -4.0000 }" shape=record]
	n2 [label="{ e | data -6.0000 | grad -2.0000 }" shape=record]
	n2_op [label="*"]
	n2_op -> n2
	n0 -> n2_op
	n1 -> n2_op
	n3 [label="{ c | data 10.0000 | grad -2.0000 }" shape=record]
	n4 [label="{ d | data 4.0000 | grad -2.0000 }" shape=record]
	n4_op [label="+"]
	n4_op -> n4
	n2 -> n4_op
	n3 -> n4_op
	n5 [label="{ f | data -2.0000 | grad 4.0000 }" shape=record]
	n6 [label="{ L | data -8.0000 | grad 1.0000 }" shape=record]
	n6_op [label="*"]
	n6_op -> n6
	n4 -> n6_op
	n5 -> n6_op
}
"""


def test_seed_graph_dot_text_is_golden() -> None:
    n = seed_graph()
    n["L"].backward()
    dot = draw_dot(n["L"])
    assert isinstance(dot, graphviz.Digraph)
    assert dot.source == SEED_DOT


def test_dot_text_is_the_same_on_every_build() -> None:
    sources = set()
    for _ in range(3):
        n = seed_graph()
        sources.add(draw_dot(n["L"]).source)
    assert len(sources) == 1


def test_a_plus_a_draws_two_edges() -> None:
    a = Value(1.0, label="a")
    source = draw_dot(a + a).source
    assert source.count("n0 -> n1_op") == 2


def test_constants_and_awkward_labels() -> None:
    x = Value(3.0, label="x|<y>")
    source = draw_dot(2 * x).source
    assert "{ const | data 2.0000 }" in source and "style=dashed" in source
    assert r"x\|\<y\>" in source


def test_dot_binary_is_installed() -> None:
    # CI installs graphviz; the rendering tests below must run, not skip.
    assert shutil.which("dot"), "graphviz's `dot` is missing: run `make install` (apt-get install graphviz)"


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_save_graph_renders_a_real_file(tmp_path, suffix: str) -> None:
    n = seed_graph()
    n["L"].backward()
    path = save_graph(n["L"], tmp_path / "sub" / f"seed.{suffix}")
    data = path.read_bytes()
    if suffix == "svg":
        text = data.decode()
        assert text.lstrip().startswith("<?xml") and "</svg>" in text
        assert "grad 6.0000" in text and "data &#45;8.0000" in text
    else:
        assert data.startswith(b"\x89PNG")
    assert [p.name for p in path.parent.iterdir()] == [f"seed.{suffix}"]  # no temp file left


def test_save_graph_refuses_an_unknown_format_and_writes_nothing(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        save_graph(Value(1.0), tmp_path / "graph.jpeg")
    assert list(tmp_path.iterdir()) == []


def test_inline_display_in_jupyter_is_svg() -> None:
    bundle = draw_dot(seed_graph()["L"])._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "<svg" in bundle["image/svg+xml"]
