"""A small worker written from docs/protocol.md alone, as an adapter's author would: a scalar
engine with `mul` and `add`, stdlib only. Its first argument picks how it writes numbers and
what it says about its code, so that the conformance tests can break it one way at a time:

- ``good``: numbers as the protocol spells them; definitions name the engine's own
  functions (``times``, ``plus``) with the operation each implements (``"op"``);
- ``unlinked``: the same definitions without ``"op"``: nothing links to an operation;
- ``stringify``: NaN and the infinities written as ``null`` and -0.0 as 0, as JavaScript's
  ``JSON.stringify`` writes them;
- ``null-grad``: only a gradient that is NaN written as ``null`` (the data right);
- ``signless-zero``: only -0.0 written as 0;
- ``bare-nan``: Python's own ``json.dumps``, which writes NaN as a bare ``NaN`` token;
- ``wrong-times``: numbers right, but ``times`` gives ``a`` the upstream gradient alone;
- ``no-leaf-grads``: a leaf's gradient written as ``null`` (as if it held none).

Its ``backward`` is micrograd's: the root's gradient set to 1, the rules run again.

Not a test module: the tests run it with ``--exec``.
"""

import json
import math
import os
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "good"


class Node:
    def __init__(self, data, inputs=(), op=""):
        self.data = data
        self.grad = 0.0
        self.inputs = inputs
        self.op = op
        self.rule = None


def times(a, b):
    out = Node(a.data * b.data, (a, b), "*")

    def rule():
        a.grad += (1.0 if MODE == "wrong-times" else b.data) * out.grad
        b.grad += a.data * out.grad

    out.rule = rule
    return out


def plus(a, b):
    out = Node(a.data + b.data, (a, b), "+")

    def rule():
        a.grad += out.grad
        b.grad += out.grad

    out.rule = rule
    return out


OPERATIONS = {"mul": times, "add": plus}


def backward(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((i, False) for i in node.inputs)
    root.grad = 1.0
    for node in reversed(order):
        if node.rule is not None:
            node.rule()


def number(value):
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(value, value)


def written(value, grad=False, leaf=False):
    """A number as this adapter writes it, per MODE."""
    if MODE == "no-leaf-grads" and grad and leaf:
        return None
    if not isinstance(value, float):
        return value
    if MODE == "stringify" or (MODE == "null-grad" and grad and math.isnan(value)):
        return None if not math.isfinite(value) else (0 if value == 0 else value)
    if MODE == "signless-zero" and value == 0:
        return 0.0
    if MODE != "bare-nan" and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def run(program):
    named, made, ids, steps, observations = {}, [], {}, [], []

    def ident(node):
        return ids.setdefault(id(node), len(ids))

    for step in program["steps"]:
        if "let" in step:
            if "value" in step:
                node = Node(number(step["value"]))
            elif "nudged" in step:
                source = named[step["nudged"]]
                node = Node(source.data + number(step["step"]) * source.grad)
            elif step["apply"] not in OPERATIONS:
                name = step["apply"]
                missing = {"kind": "missing", "type": "Node", "message": f"no {name}", "name": name}
                steps.append({"ok": False, "error": missing})
                break
            else:
                args = [named[a["ref"]] if "ref" in a else Node(number(a["number"])) for a in step["args"]]
                node = OPERATIONS[step["apply"]](*args)
            named[step["let"]] = node
            made.append(node)
            steps.append({"ok": True, "node": ident(node)})
        elif "backward" in step:
            backward(named[step["backward"]])
            steps.append({"ok": True})
        elif "read" in step:
            node = named[step["read"]]
            grad = written(node.grad, True, not node.inputs)
            steps.append({"ok": True, "data": written(node.data), "grad": grad})
        else:
            listed, nodes, stack = set(), [], [named[step["observe"]], *made]
            while stack:
                node = stack.pop()
                if id(node) in listed:
                    continue
                listed.add(id(node))
                inputs = [ident(i) for i in node.inputs]
                numbers = {"data": written(node.data), "grad": written(node.grad, True, not node.inputs)}
                nodes.append({"id": ident(node), **numbers, "op": node.op, "inputs": inputs})
                stack.extend(node.inputs)
            observations.append({"root": ident(named[step["observe"]]), "nodes": nodes})
            steps.append({"ok": True})
    return {"name": program["name"], "steps": steps, "observations": observations}


def definitions():
    found = []
    with open(__file__, encoding="utf-8") as source:
        lines = source.read().splitlines()
    for line, text in enumerate(lines, 1):
        for op, function in OPERATIONS.items():
            if text.startswith(f"def {function.__name__}("):
                entry = {"name": function.__name__, "file": os.path.relpath(__file__), "line": line}
                found.append(entry if MODE == "unlinked" else {**entry, "op": op})
    return found


for line in sys.stdin:
    request = json.loads(line)
    answer = {"id": request["id"], "nonce": request["nonce"], "type": request["type"]}
    if request["type"] == "hello":
        answer.update(protocol=1, worker={"name": "protocol_adapter", "language": "python", "version": MODE})
    elif request["type"] == "load":
        spellings = {"data": "data", "grad": "grad", "inputs": "inputs", "op": "op", "backward": "backward"}
        answer.update(ok=True, engine={"name": "Node", "spellings": spellings, "definitions": definitions()})
    elif request["type"] == "run":
        answer["traces"] = [run(program) for program in request["programs"]]
    print(json.dumps(answer), flush=True)
