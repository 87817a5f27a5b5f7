"""Tolerances and distances: float64 noise passes, float32 rounding does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twingrad.parity.tolerances import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance, difference, differences

inf, nan = math.inf, math.nan


def ulps_apart(x: float, k: int) -> float:
    for _ in range(k):
        x = float(np.nextafter(x, math.inf))
    return x


def test_defaults_are_the_documented_ones() -> None:
    assert Tolerance.of() == Tolerance(DEFAULT_RTOL, DEFAULT_ATOL) == Tolerance(1e-10, 1e-300)
    assert Tolerance.of(rtol=1e-6).atol == DEFAULT_ATOL
    assert Tolerance.of(atol=1e-3).rtol == DEFAULT_RTOL


@pytest.mark.parametrize("value", [1.0, -0.7071067811865476, 1e-300, 3.0e200, 0.1])
def test_a_few_ulps_pass(value: float) -> None:
    tol = Tolerance.of()
    for k in (1, 2, 40):  # 40: tanh's derivative at 2.5 amplifies one ULP that much
        assert tol.close(ulps_apart(value, k), value)


def test_values_rounded_through_float32_are_flagged() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(-100.0, 100.0, size=10_000) * 10.0 ** rng.integers(-30, 30, size=10_000)
    rounded = values.astype(np.float32).astype(np.float64)
    flagged = ~Tolerance.of().close_all(rounded, values)
    changed = rounded != values
    # All but the rare rounding that lands within 1e-10 relative (about 0.3%).
    assert flagged[changed].mean() > 0.99
    assert not flagged[~changed].any()


@pytest.mark.parametrize(
    ("actual", "expected", "close"),
    [
        (nan, nan, True),
        (nan, 1.0, False),
        (1.0, nan, False),
        (inf, inf, True),
        (-inf, inf, False),
        (inf, 1e308, False),
        (1e308, inf, False),
        (0.0, -0.0, True),
        (1e-310, 2e-310, True),  # below the normal range only atol speaks
        (1e-290, 2e-290, False),
    ],
)
def test_special_values(actual: float, expected: float, close: bool) -> None:
    tol = Tolerance.of()
    assert tol.close(actual, expected) is close
    assert bool(tol.close_all(np.array([actual]), np.array([expected]))[0]) is close


def test_scale_judges_a_cancelled_sum_by_its_terms() -> None:
    tol = Tolerance.of()
    # 1 + 1e-15 - 1 computed in two orders: 1.1e-15 against 1e-15
    assert not tol.close(1.1102230246251565e-15, 1e-15)
    assert tol.close(1.1102230246251565e-15, 1e-15, scale=2.0)
    gradient = np.array([1.0, 1e-17, -0.5])
    other = np.array([1.0, 3e-17, -0.5])
    assert not tol.close_all(other, gradient)[1]
    assert tol.close_all(other, gradient, scale=1.0).all()


def test_differences() -> None:
    a = np.array([1.0, ulps_apart(1.0, 3), nan, inf, -inf, 0.0, -1.0, 1.0, nan])
    e = np.array([1.0, 1.0, nan, inf, inf, -0.0, 1.0, 0.0, 2.0])
    absolute, relative, ulps = differences(a, e)
    assert list(ulps[:6]) == [0.0, 3.0, 0.0, 0.0, inf, 0.0]
    assert ulps[6] == pytest.approx(2 * 4607182418800017408)  # -1 to 1 across zero
    assert absolute[1] == pytest.approx(3 * 2.220446049250313e-16)
    assert relative[7] == inf and absolute[8] == inf and relative[0] == 0.0
    assert difference(2.0, 1.0) == (1.0, 1.0, 4503599627370496.0)
