"""The expected numbers of a check are the op table's twin's, and torch confirms them at drawn inputs.

Nothing is recorded: `twingrad.check.reference` computes output, input gradients and the
nudged output in the parent, for whatever inputs a run drew. Here torch's own run of
every case (float64 autograd) agrees with them within the default tolerance, at the
inputs of several seeds, and the lecture's fixed cases keep their lecture numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import twingrad.check
from twingrad.check.cases import CASES, CASES_BY_NAME
from twingrad.check.inputs import draw_cases
from twingrad.check.programs import NUDGE_STEP
from twingrad.check.reference import reference
from twingrad.parity.function import start_report
from twingrad.parity.tolerances import Tolerance

SEEDS = (0, 1, 2718281828)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_twin_agrees_with_torch_on_every_case_at_drawn_inputs(seed: int) -> None:
    close = Tolerance().close
    wrong = []
    for case in draw_cases(CASES, seed):
        def by_name(case=case, **values: float) -> object:
            return case.fn(*values.values())

        torch = start_report(by_name, case.input_names, case.inputs, True, NUDGE_STEP, case.name)
        twin = reference(case)
        pairs = [("output", twin.numbers.output, torch.torch_before), ("after the nudge", twin.after,
                 torch.torch_after), *zip(case.input_names, twin.numbers.grads, torch.torch_grads)]
        wrong += [f"{case.name} {what}: twin {a!r}, torch {b!r}" for what, a, b in pairs if not close(a, b)]
    assert not wrong, "\n".join(wrong)


def test_the_lecture_cases_keep_the_lecture_numbers() -> None:
    seed = reference(CASES_BY_NAME["nudge_step"])
    assert seed.numbers.output == -8.0 and seed.numbers.grads == (6.0, -4.0, -2.0, 4.0)
    assert seed.after == pytest.approx(-7.286496, abs=5e-7)  # the seed notebook's nudge
    neuron = reference(CASES_BY_NAME["lecture_neuron"])
    assert neuron.numbers.output == pytest.approx(2**-0.5, rel=1e-15)


def test_no_expected_numbers_ship_with_the_checker() -> None:
    """An answer key in the package would be readable by whoever finds the package."""
    package = Path(twingrad.check.__file__).parent
    assert not [p.name for p in package.rglob("*") if p.suffix in {".json", ".npz", ".pkl", ".csv"}]
