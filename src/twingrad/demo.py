"""``twingrad demo``: the seed notebook's story, run by the engine in one go."""

from __future__ import annotations

from pathlib import Path

from .engine import leaves, nudge
from .examples import seed_graph


def run_demo(out: str = "twingrad-demo.svg", step: float = 0.01) -> int:
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

    before = L.data
    predicted = step * sum(leaf.grad**2 for leaf in leaves(L))
    after = nudge(L, step)
    print(f"\nnudge(L, {step:g}): each leaf moves by {step:g} x its grad; the graph is recomputed")
    print(f"  L: {before:.6f} -> {after:.6f}")
    print(f"  change {after - before:+.6f}; first-order prediction step * sum(grad^2) = {predicted:+.6f}")

    path = save_graph(L, Path(out))
    print(f"\nThe graph after the nudge is drawn in {path.resolve()}")
    return 0
