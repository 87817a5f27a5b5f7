"""Localisation never blames a probe's own artefact; the operand-type rule.

A case that ran to its end and gave wrong numbers was not made wrong by a crash: a probe
that raises (a plain number the engine does not wrap) is said apart from the cause, and
the cause the numbers show (`=` for `+=`, a rule run twice) is named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twingrad.check import check_engine
from twingrad.check.failures import beyond_the_lecture, declines
from twingrad.check.protocol import WorkerError

LEARNERS = Path(__file__).parent / "engines" / "learners"


def test_the_assign_engine_that_takes_no_numbers_is_explained_as_assign() -> None:
    run = check_engine(
        f"{LEARNERS}/assign_everywhere_no_numbers.py:Value",
        only=["reuse_a_plus_a", "reuse_a_times_a", "deep_chain", "unary_tanh"],
    )
    for result in run.results:
        assert result.status == "fail", result
        cause, _, aside = result.detail.partition("; separately, ")
        assert "overwrites gradients (`=`) where they must add up (`+=`)" in cause, result.detail
        assert "wrong on its own" not in result.detail and "raises" not in cause
        assert "raises AttributeError" in aside and aside.endswith("(not the cause here)")


def test_a_backward_that_runs_a_rule_again_is_named_so() -> None:
    run = check_engine(f"{LEARNERS}/overcount.py:Value", only=["softmax_nll", "stacked_diamonds"])
    for result in run.results:
        assert result.status == "fail" and "ran more than once" in result.detail, result
        assert "wrong on its own" not in result.detail and "overwrites" not in result.detail


def _raised(message: str, kind: str = "TypeError") -> WorkerError:
    return WorkerError("raised", kind, message, "", None, (), 1)


@pytest.mark.parametrize(
    ("op", "as_value", "refused"),
    [
        ("pow", (True, True), True),  # x ** y: the lecture's __pow__ takes numbers only
        ("pow", (False, True), True),  # 2 ** x: the lecture has no __rpow__
        ("pow", (True, False), False),  # x ** 2: the lecture's own
        ("mul", (True, False), False),  # x * 3 and 3 * x: the lecture wraps numbers
        ("mul", (False, True), False),
        ("neg", (True,), False),
    ],
)
def test_the_operand_kinds_beyond_the_lecture(op: str, as_value: tuple[bool, ...], refused: bool) -> None:
    assert beyond_the_lecture(op, as_value) is refused


def test_only_pythons_own_unsupported_operand_error_beyond_the_lecture_is_a_refusal() -> None:
    words = "unsupported operand type(s) for ** or pow(): 'float' and 'Value'"
    assert declines(_raised(words), "pow", (True, True))
    assert not declines(_raised(words), "pow", (True, False))  # x ** 2 crashing: a bug
    assert not declines(_raised("must be real number, not Value"), "pow", (True, True))
    mul = "unsupported operand type(s) for *: 'float' and 'Value'"
    assert not declines(_raised(mul), "mul", (True, False))  # x * 3 crashing: a bug


def test_a_number_only_pow_without_assert_passes_with_value_exponents_unsupported() -> None:
    run = check_engine(
        f"{LEARNERS}/pow_numbers_only.py:Value",
        only=["value_to_the_value", "integer_powers", "number_over_value"],
    )
    assert run.exit_code == 0
    refused = run.result("value_to_the_value")
    assert refused.status == "unsupported"
    assert "TypeError: unsupported operand type(s) for ** or pow(): 'float' and 'Value'" in refused.detail


@pytest.mark.parametrize("x", [2.5, 0.37, 1.5e-4, 3e-5])
@pytest.mark.parametrize("epsilon", [1e-6, -1e-6, 1e-9])
def test_an_offset_on_logs_input_is_found_where_log_is_steep_too(x: float, epsilon: float) -> None:
    """Near 0 log curves fast, so a straight-line estimate of the offset is off by percents; the
    offset is still named (a drawn softmax_nll meets log at about 1.5e-4)."""
    from twingrad.check.probes import input_offset
    from twingrad.ops import OPS_BY_NAME

    log = OPS_BY_NAME["log"]
    assert input_offset(log, x, log.forward(x + epsilon), log.forward(x)) == epsilon
    assert input_offset(log, x, log.forward(x) * (1 + 1e-3), log.forward(x)) is None  # no round ε


def test_a_hair_thin_first_divergence_does_not_hide_a_plain_one_behind_it() -> None:
    """At seed 2 the MLP's first divergent node is a saturated tanh, off in its last digits
    only; a later node is plainly wrong, and that is the one explained (it was "precision loss")."""
    run = check_engine(f"{LEARNERS}/tanh_one_minus_x2.py:Value", only=["mlp_tanh_squared_error"], seed=2)
    [result] = run.results
    assert result.status == "fail"
    assert "tanh is wrong on its own" in result.detail and "precision" not in result.detail
