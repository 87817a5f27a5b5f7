"""The recorded torch reference is torch's own answer for today's catalogue, bit for bit."""

from __future__ import annotations

import json
import math

import pytest

from twingrad.check import reference
from twingrad.check.cases import CASES


def test_the_record_is_for_this_catalogue_and_this_torch() -> None:
    record = json.loads(reference.RECORD.read_text())
    assert record["catalogue"] == reference.catalogue_digest(), "the catalogue changed: run `make reference`"
    assert record["torch_version"] == reference.installed_torch(), "torch changed: run `make reference`"
    assert set(record["cases"]) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_recorded_number_is_what_torch_computes_now(case) -> None:
    before, grads, after = reference.compute(case.name)
    recorded = reference.torch_side(case.name)
    computed = (before, grads, after)
    for mine, theirs in zip(
        (recorded[0], *recorded[1], recorded[2]), (computed[0], *computed[1], computed[2])
    ):
        assert mine == theirs or (math.isnan(mine) and math.isnan(theirs))


def test_a_record_for_another_catalogue_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    reference._recorded.cache_clear()
    monkeypatch.setattr(reference, "catalogue_digest", lambda: "something else")
    try:
        assert reference._recorded() is None
    finally:
        reference._recorded.cache_clear()
