"""The pytest plugin: registered by entry point, the `parity` fixture, torch loaded lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = '''
import sys

import numpy as np
import pytest

from twingrad import Value
from twingrad.examples import seed_graph


def test_collecting_and_running_without_the_fixture_needs_no_torch():
    assert "torch" not in sys.modules


def test_passes(parity):
    report = parity(seed_graph()["L"])
    assert report.ok


def test_wrong_hand_set_gradient_fails(parity):
    nodes = seed_graph()
    nodes["L"].backward()
    nodes["b"].grad = 0.0
    parity(nodes["L"], backward=False)


def float32_exp():
    x = Value(0.3)
    y = x.exp()
    y.data = float(np.float32(y.data))
    return y


def test_ini_tolerance_flags_float32(parity):
    assert parity.rtol == 1e-9
    assert not parity.compare(float32_exp()).ok


@pytest.mark.parity(rtol=1e-6)
def test_marker_loosens_the_tolerance(parity):
    parity(float32_exp())


def test_nudge_function_and_training(parity):
    assert parity.nudge(seed_graph()["L"]).ok
    assert parity.function(lambda a: (a * a).tanh(), [0.5]).ok
    assert parity.training(steps=2).ok
'''


def test_parity_fixture_in_a_pytest_run(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nparity_rtol = 1e-9\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sample.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    assert "1 failed, 5 passed" in out, out
    assert "FAILED test_sample.py::test_wrong_hand_set_gradient_fails" in out
    assert "First divergence: grad of b (leaf)" in out
    assert "rtol 1e-09" in out  # the ini option reached the failing check


def test_plugin_is_declared_at_its_place_and_loads_neither_torch_nor_the_parity_checks() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'twingrad = "twingrad.pytest_plugin"' in pyproject
    code = (
        "import sys, twingrad.pytest_plugin as plugin\n"
        "print(hasattr(plugin, 'parity'), 'torch' in sys.modules, 'twingrad.parity' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_the_installed_entry_point_loads_the_fixture_without_torch() -> None:
    # The installed entry point is twingrad.pytest_plugin: the fixture is there, torch is not.
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "(ep,) = [e for e in entry_points(group='pytest11') if e.name == 'twingrad']\n"
        "module = ep.load()\n"
        "from twingrad import pytest_plugin\n"
        "print(module.parity is pytest_plugin.parity, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_fixture_without_settings_uses_the_defaults() -> None:
    from twingrad.examples import seed_graph
    from twingrad.pytest_plugin import ParityFixture, _number

    assert _number(None) is None and _number("") is None and _number("1e-6") == 1e-6
    report = ParityFixture().compare(seed_graph()["L"])
    assert (report.tolerance.rtol, report.tolerance.atol) == (1e-10, 1e-300)
    assert ParityFixture(rtol=1e-3).compare(seed_graph()["L"], rtol=1e-4).tolerance.rtol == 1e-4
