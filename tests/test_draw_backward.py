"""The backward pass drawn beside its forward graph: `twingrad.draw.draw_backward`."""

from __future__ import annotations

import re

import pytest

from twingrad import Value, grad
from twingrad.draw import draw_backward, draw_dot
from twingrad.engine import backward_graph, topological_order


def neuron() -> tuple[Value, Value, Value]:
    x, w = Value(0.5, label="x"), Value(-2.0, label="w")
    n = x * w
    n.label = "n"
    y = n.tanh()
    y.label = "y"
    return y, x, w


def boxes(source: str) -> dict[str, set[str]]:
    """Each cluster's title and the value nodes (records) drawn in it."""
    found = {}
    for body in re.findall(r"subgraph cluster_\w+ \{(.*?)\n\t\}", source, flags=re.S):
        title = re.search(r'label="([^"]*)"', body).group(1)
        found[title] = set(re.findall(r"^\t\t(n\d+) \[label=", body, flags=re.M))
    return found


def test_each_backward_node_sits_in_the_box_of_the_forward_op_that_made_it() -> None:
    y, x, w = neuron()
    source = draw_backward(y, [x, w]).source
    drawn = boxes(source)
    assert set(drawn) == {"forward: y", "backward of y (tanh)", "backward of n (*)"}
    assert len(drawn["forward: y"]) == len(topological_order(y)) == 4
    # tanh's rule with the seed: 1, (1 - y), (1 + y), their product, times the seed
    assert len(drawn["backward of y (tanh)"]) == 7
    # mul's rule: one product per input, each a gradient asked for
    assert len(drawn["backward of n (*)"]) == 2
    assert "∂y/∂x | data -0.8399" in source and "∂y/∂w | data 0.2100" in source
    # tanh's rule reads the forward output y (n3): an edge from the forward box into the backward one
    assert re.search(r"\tn3 -> n\d+_op", source)


def test_the_drawing_holds_every_node_of_the_gradient_graphs_and_is_the_same_every_time() -> None:
    y, x, w = neuron()
    first = draw_backward(y, [x, w]).source
    assert first == draw_backward(y, [x, w]).source
    gradients, origins = backward_graph(y, [x, w])
    assert [g.data for g in gradients] == grad(y, [x, w])
    nodes = {id(n) for g in gradients for n in topological_order(g)}
    assert nodes <= {id(n) for n in origins}
    assert len(re.findall(r"^\t\t(n\d+) \[label=", first, flags=re.M)) == len(origins)


def test_a_second_derivative_draws_the_backward_of_the_backward() -> None:
    x = Value(0.3, label="x")
    dy = grad(x.sin() * x, x, create_graph=True)
    dy.label = "dy"
    source = draw_backward(dy, x).source
    assert "∂dy/∂x" in source
    assert "forward: dy" in source and "backward of dy (+)" in source


def test_draw_backward_refuses_bad_arguments() -> None:
    y, x, _ = neuron()
    with pytest.raises(TypeError, match="output must be a twingrad Value"):
        draw_backward(1.0, x)
    with pytest.raises(ValueError, match="1 names for 2 inputs"):
        draw_backward(y, [x, x], names=["a"])


def test_draw_dot_of_a_gradient_draws_the_whole_graph_it_reads() -> None:
    y, x, _ = neuron()
    dy = grad(y, x, create_graph=True)
    assert len(re.findall(r"\[label=\"\{", draw_dot(dy).source)) == len(topological_order(dy))
