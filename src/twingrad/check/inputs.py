"""Inputs no one knows before the run: each check draws its cases' numbers from a fresh seed.

An engine that only looks right -- one that answers gradients from a table built by an
earlier run, keyed by the leaves' labels, values and ops, or from an answer key it found
-- passes any catalogue whose numbers never change. So every run of ``twingrad check``
picks a seed (`new_seed`) and checks each case with a ``draw`` (`twingrad.check.cases`)
at inputs drawn from it; `drawn_graph` draws its wiring too, and the MLPs their weights.

* The seed stays in the parent. The worker is sent one case program at a time, with the
  numbers of that case only, when it is that case's turn; the expected numbers are
  computed here (`twingrad.check.reference`), never recorded.
* Each case draws from its own stream, ``Random(f"{seed}:{case name}")``: ``--only`` picks
  a case at the very inputs the whole run gave it, and adding a case moves no other.
* The seed is printed with every report (summary line, JSON, JUnit, HTML) and ``--seed N``
  replays a run exactly: a learner's report is reproducible, a teacher's grade is not
  guessable. A batch uses one seed for all its targets, so every submission is judged on
  the same inputs. No config file sets it: ``[tool.twingrad.check]`` belongs to the engine's
  folder, the submission's own, and whoever is checked must not choose the inputs.
* A draw is kept only where the checked numbers are well posed (`well_posed`): every value
  finite, every op inside its domain and ``RELU_MARGIN`` off a kink at the inputs and after
  the nudge, no sum or difference cancelling more than three digits (``CANCELLATION``), and
  the compared numbers insensitive to rounding -- moving the inputs by a few parts in 1e13
  moves none of them by more than ``CONDITION`` times as much. So a correct
  engine, whatever order it rounds in, agrees within the default tolerance on every draw,
  and a wrong one cannot hide in a cancellation. Otherwise the case draws again from its
  stream, which keeps the run a function of the seed.
"""

from __future__ import annotations

import functools
import math
import random
import secrets
from collections.abc import Sequence

from ..ops import Op
from .cases import Case
from .reference import Numbers, Reference, nudged, reference

SEED_LIMIT = 2**32  # seeds are 0 .. 2**32 - 1: short enough to type, too many to guess
RELU_MARGIN = 1e-6  # how far off its kink a relu or abs operand must stay (an absolute distance)
DOMAIN_MARGIN = 1e-9  # how far above 0 a log, sqrt or fractional power's operand must stay
PERTURBATION = 3e-13  # the relative move of the inputs that probes the conditioning
CONDITION = 300.0  # the most a compared number may move, relative, per unit of that move
CANCELLATION = 1000.0  # the most a sum or difference may shrink its operands' size by
DRAWS = 200  # attempts per case before giving up (never reached: the pickiest case keeps 6 draws in 10)


def new_seed() -> int:
    """A seed for one run, from the operating system's randomness."""
    return secrets.randbelow(SEED_LIMIT)


def check_seed(seed: object) -> int:
    """``seed`` if it is a seed (an int in 0 .. 2**32 - 1); ValueError naming what is wrong otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"a seed is a whole number from 0 to {SEED_LIMIT - 1}, not {seed!r}")
    return seed


@functools.lru_cache(maxsize=64)  # the targets of a batch share one seed: the same case objects
def drawn(case: Case, seed: int) -> Case:
    """``case`` as the run with ``seed`` checks it: at well-posed inputs drawn from its own stream."""
    if case.draw is None:
        return case
    rng = random.Random(f"{seed}:{case.name}")
    for _ in range(DRAWS):
        candidate = case.drawn(rng)
        if well_posed(reference(candidate)):
            return candidate
    raise RuntimeError(f"{case.name}: no well-posed inputs in {DRAWS} draws (its samplers need narrowing)")


def draw_cases(cases: Sequence[Case], seed: int) -> list[Case]:
    return [drawn(case, seed) for case in cases]


# -- well posed -----------------------------------------------------------------------------------


def well_posed(ref: Reference) -> bool:
    """Are the case's checked numbers safe to compare at the default tolerance (see the module)?"""
    try:
        at = ref.numbers
        inputs = list(ref.case.inputs)
        points = (inputs, nudged(inputs, at.grads))
        if not all(_inside(ref, ref.values(point)) for point in points):
            return False
        n = len(inputs)
        alike, alternate = [1.0] * n, [(-1.0) ** k for k in range(n)]
        return all(_steady(ref, at, ref.after, signs) for signs in (alike, alternate))
    except (ArithmeticError, ValueError):  # math raising on the way: certainly not well posed
        return False


def _inside(ref: Reference, values: Sequence[float]) -> bool:
    """Every value finite, every op's operands inside its domain and off its kink."""
    plan = ref.plan
    if not all(math.isfinite(v) for v in values):
        return False
    for i, step in enumerate(plan.steps):
        if isinstance(step, Op):
            operands = plan.operand_values(values, i)
            if not _admissible(step, operands) or _cancels(step, operands, values[i]):
                return False
    return True


def _cancels(op: Op, operands: Sequence[float], result: float) -> bool:
    """Does a sum or difference lose more than three digits? A float32 engine's rounding of its
    operands (6e-8) would show in the result near --float32's tolerance (1e-4)."""
    if op.name not in ("add", "sub"):
        return False
    return abs(result) * CANCELLATION < abs(operands[0]) + abs(operands[1])


def _admissible(op: Op, operands: Sequence[float]) -> bool:
    a = operands[0]
    if op.name in ("relu", "abs"):
        return abs(a) > RELU_MARGIN
    if op.name in ("log", "sqrt"):
        return a > DOMAIN_MARGIN
    if op.name == "pow":  # a negative base only to an integer power, no pole at 0
        b = operands[1]
        return a > DOMAIN_MARGIN or (b == round(b) and abs(a) > DOMAIN_MARGIN)
    if op.name == "div":
        return operands[1] != 0.0
    return True


def _steady(ref: Reference, at: Numbers, after: float, signs: Sequence[float]) -> bool:
    """Do output, gradients and nudged output move by at most CONDITION times a tiny move of the inputs?"""
    moved = [x * (1.0 + sign * PERTURBATION) for x, sign in zip(ref.case.inputs, signs)]
    there = ref.at(moved)
    moved_after = ref.output(nudged(moved, there.grads))
    pairs = [(at.output, there.output), *zip(at.grads, there.grads), (after, moved_after)]
    bound = CONDITION * PERTURBATION
    return all(abs(b - a) <= bound * abs(a) for a, b in pairs)
