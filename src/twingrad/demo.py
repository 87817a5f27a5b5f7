"""``twingrad demo``: the seed notebook's story, run by the engine and checked against torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine import leaves, nudge
from .examples import seed_graph
from .extras import message, missing

# The lecture-style engine of the repository, as the README runs it from the repository's root.
EXAMPLE = Path("docs", "examples", "my_engine.py")


def run_demo(out: str = "twingrad-demo.svg", step: float = 0.01) -> int:
    """Print the story, write the drawing; 0 when torch agrees (or is not installed), else 1."""
    from .draw import save_graph

    nodes = seed_graph()
    L = nodes["L"]
    print("The seed notebook's graph:  e = a*b;  d = e + c;  L = d*f")
    print("  " + "   ".join(f"{name} = {nodes[name].data:g}" for name in ("a", "b", "c", "f")))
    print(f"  L = {L.data:g}")

    L.backward()
    print("\nbackward(): dL/d(node)")
    for name in ("a", "b", "c", "e", "d", "f", "L"):
        print(f"  {name}.grad = {nodes[name].grad:g}")

    # torch is optional for the engine; without it the story runs unchecked.
    absent = missing("torch")
    with_torch = absent is None
    report: Any = None
    if with_torch:
        from .parity import compare

        report = compare(L, backward=False)
        print(f"\nthe torch twin (float64, node by node): {'agrees' if report.ok else 'DISAGREES'}")
        print(f"  {report.summary}")
    else:
        print(f"\nThe torch twin is skipped: {message('it', absent)}")

    before = L.data
    predicted = step * sum(leaf.grad**2 for leaf in leaves(L))
    print(f"\nnudge(L, {step:g}): each leaf moves by {step:g} x its grad; the graph is recomputed")
    if with_torch:
        from .parity import compare_nudge

        nudged = compare_nudge(L, step, backward=False)  # takes the engine's step too
        after = nudged.engine_after
        ok = report.ok and nudged.ok
        drawn_with = nudged.after
    else:
        after = nudge(L, step)
        ok, drawn_with = True, None
    print(f"  L: {before:.6f} -> {after:.6f}")
    print(f"  change {after - before:+.6f}; first-order prediction step * sum(grad^2) = {predicted:+.6f}")
    if with_torch:
        verdict = "agrees at every node" if nudged.ok else "DISAGREES"
        print(f"  torch: {nudged.torch_before:.6f} -> {nudged.torch_after:.6f} ({verdict} after the nudge)")

    path = save_graph(L, Path(out), report=drawn_with)
    beside = " with torch's values beside the engine's" if with_torch else ""
    print(f"\nThe graph after the nudge is drawn{beside} in {path.resolve()}")
    print("\nNext: twingrad check FILE.py:Value checks a Value class you wrote against torch, op by op")
    if EXAMPLE.is_file():  # run from the repository: an engine to try it on is at hand
        print(f"  twingrad check {EXAMPLE}:Value   (written as in the lecture, with its classic bug)")
    return 0 if ok else 1
