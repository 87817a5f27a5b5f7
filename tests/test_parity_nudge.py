"""compare_nudge: the seed's nudge on both sides, with the corrected numbers."""

from __future__ import annotations

import json

import pytest
from micrograd.engine import Value as MicrogradValue

from twingrad import Value
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.parity import compare_nudge


def test_seed_graph_nudge_agrees_and_gives_the_corrected_number() -> None:
    nodes = seed_graph()
    report = compare_nudge(nodes["L"])
    assert report.ok, report.summary
    assert (report.engine_before, report.torch_before) == (-8.0, -8.0)
    assert report.engine_after == pytest.approx(-7.286496, abs=1e-12)
    assert report.torch_after == report.engine_after
    assert report.engine_predicted == report.torch_predicted == pytest.approx(0.01 * (36 + 16 + 4 + 16))
    assert report.leaves == [0, 1, 3, 5]
    assert nodes["L"].data == report.engine_after  # the engine's graph is left nudged
    assert "L -8.000000 -> -7.286496 (engine), -8.000000 -> -7.286496 (torch)" in report.summary
    assert "first-order prediction step * sum(grad^2) +0.720000" in report.summary


def test_nudge_only_some_leaves() -> None:
    nodes = seed_graph()
    report = compare_nudge(nodes["L"], 0.1, leaves=[nodes["a"]])
    assert report.ok and report.leaves == [0]
    assert nodes["a"].data == pytest.approx(2.6) and nodes["b"].data == -3.0
    assert report.engine_predicted == pytest.approx(0.1 * 36)


def test_with_hand_set_gradients_a_wrong_one_shows_before_and_after() -> None:
    nodes = seed_graph()
    for name, grad in {"a": 6.0, "b": -4.0, "c": -2.0, "e": -2.0, "d": -2.0, "f": 4.0, "L": 1.0}.items():
        nodes[name].grad = grad
    nodes["c"].grad = 2.0  # wrong sign
    report = compare_nudge(nodes["L"], backward=False)
    assert not report.ok
    assert report.before.culprits() == {3}
    after = report.after
    assert after.row(3).data_status == "inherited"  # c moved the wrong way, as its gradient said
    assert not after.culprits() and not after.ok
    assert "No divergence starts in this graph" in after.summary
    assert report.engine_after != pytest.approx(report.torch_after)


def test_a_longer_graph_nudges_along_the_gradient() -> None:
    o = lecture_neuron()["o"]
    report = compare_nudge(o, step=1e-3)
    assert report.ok
    change = report.engine_after - report.engine_before
    assert change == pytest.approx(report.engine_predicted, rel=1e-2)


def test_only_leaves_can_be_nudged() -> None:
    nodes = seed_graph()
    with pytest.raises(ValueError, match="not a user leaf"):
        compare_nudge(nodes["L"], leaves=[nodes["e"]])
    with pytest.raises(ValueError, match="not a node of this graph"):
        compare_nudge(nodes["L"], leaves=[Value(1.0)])


def test_an_engine_that_cannot_recompute_is_sent_to_check_function() -> None:
    a = MicrogradValue(2.0)
    with pytest.raises(TypeError, match="check_function"):
        compare_nudge(a * a)


def test_renderings() -> None:
    report = compare_nudge(seed_graph()["L"])
    text = str(report)
    assert "predicted change" in text and "after the nudge:" in text
    assert "grad engine" not in text.split("after the nudge:")[1]  # stale grads are not shown after
    assert "<table" in report._repr_html_()
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["engine"] == {"before": -8.0, "after": report.engine_after, "predicted": 0.72}
    assert repr(report) == "<NudgeReport step 0.01: ok>"
