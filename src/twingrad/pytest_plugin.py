"""pytest plugin: the ``parity`` fixture (registered through the ``pytest11`` entry point).

Every pytest run in an environment with twingrad installed loads this module, so it
imports nothing heavy: not even `twingrad.parity`, whose checks load torch when a test
first uses the fixture.

    def test_my_graph(parity):
        x = Value(0.5, label="x")
        parity((x * x).tanh())                # assert_parity: raises with the report
        parity.nudge(some_root, step=0.01)     # compare_nudge, asserting
        parity.function(lambda a: a.exp() * a, [0.3])  # check_function, asserting
        report = parity.compare(root)          # the report, without asserting

Tolerances come from the ``parity_rtol`` / ``parity_atol`` ini options, then from a
``@pytest.mark.parity(rtol=..., atol=...)`` marker, then from keyword arguments.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    for name in ("rtol", "atol"):
        parser.addini(f"parity_{name}", f"{name} of the parity fixture (unset: twingrad's default)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "parity(rtol=None, atol=None): tolerances of the parity fixture in this test"
    )


class ParityFixture:
    """Parity checks that fail the test with the report's message; see the module docstring."""

    def __init__(self, rtol: float | None = None, atol: float | None = None) -> None:
        self.rtol = rtol
        self.atol = atol

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"rtol": self.rtol, "atol": self.atol, **options}

    def compare(self, root: Any, **options: Any) -> Any:
        """`twingrad.parity.compare` with this test's tolerances; never fails the test."""
        from .parity.comparison import compare

        return compare(root, **self._options(options))

    def __call__(self, root: Any, **options: Any) -> Any:
        """`assert_parity` with this test's tolerances."""
        __tracebackhide__ = True
        from .parity.rendering import require

        return require(self.compare(root, **options))

    def nudge(self, root: Any, step: float = 0.01, **options: Any) -> Any:
        __tracebackhide__ = True
        from .parity.nudge import compare_nudge
        from .parity.rendering import require

        return require(compare_nudge(root, step, **self._options(options)))

    def function(self, fn: Any, inputs: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        from .parity.function import check_function
        from .parity.rendering import require

        return require(check_function(fn, inputs, **self._options(options)))

    def training(self, *args: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        from .parity.rendering import require
        from .parity.training import compare_training

        return require(compare_training(*args, **self._options(options)))


def _number(text: Any) -> float | None:
    return None if text in (None, "") else float(text)


@pytest.fixture
def parity(request: pytest.FixtureRequest) -> ParityFixture:
    """Assert that graphs, nudges, functions and training agree with their torch twins."""
    rtol = _number(request.config.getini("parity_rtol"))
    atol = _number(request.config.getini("parity_atol"))
    marker = request.node.get_closest_marker("parity")
    if marker is not None:
        rtol = marker.kwargs.get("rtol", rtol)
        atol = marker.kwargs.get("atol", atol)
    return ParityFixture(rtol, atol)
