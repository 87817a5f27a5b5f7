"""twingrad's worker for Python engines: protocol version 1 (docs/protocol.md).

Run as ``python -s pyworker.py`` inside the sandbox, under any Python from 3.8 on: the
standard library only, and no twingrad. It loads the learner's engine, runs the programs
it is sent, and answers with numbers and the graphs it sees. It judges nothing: whatever
it says, the parent validates and compares with its own torch reference.

The engine runs in this very process, so it could write to the protocol pipe itself;
every answer echoes the nonce of its request, which no code can know before the request
is sent, and the parent discards whatever does not.
"""

import math
import operator
import os
import sys

PROTOCOL = 1
TEXT_LIMIT = 2000
FRAME_LIMIT = 30
NODE_LIMIT = 200000  # nodes in one observation; a catalogue graph has a few hundred
HERE = os.path.abspath(__file__)

# An engine's own names for each role, most common first (seen in lecture followers' code).
CANDIDATES = {
    "data": ("data", "val", "value", "v", "_data", "x"),
    "grad": ("grad", "derivative", "gradient", "g", "_grad", "d"),
    "inputs": (
        "_prev",
        "_children",
        "children",
        "prev",
        "parents",
        "_parents",
        "_operands",
        "operands",
        "inputs",
        "_inputs",
        "_child",
        "_previous",
        "previous",
        "_deps",
        "deps",
        "_src",
        "srcs",
    ),
    "op": (
        "_op",
        "op",
        "_operation",
        "operation",
        "_op_name",
        "op_name",
        "_opname",
        "opname",
        "_backward_op",
    ),
    "label": ("label", "_label", "name", "_name"),
    "backward": ("backward", "backprop", "backpropagate", "back_prop", "backward_pass", "propagate"),
    "requires_grad": ("requires_grad", "_requires_grad", "require_grad", "needs_grad"),
}
ROLES = tuple(CANDIDATES)

# The op table's names as Python spells them: an operator (with its method and reflected
# method) or a method of the value.
OPERATORS = {
    "add": (operator.add, "__add__", "__radd__"),
    "sub": (operator.sub, "__sub__", "__rsub__"),
    "mul": (operator.mul, "__mul__", "__rmul__"),
    "div": (operator.truediv, "__truediv__", "__rtruediv__"),
    "pow": (operator.pow, "__pow__", "__rpow__"),
    "neg": (operator.neg, "__neg__", None),
    "abs": (abs, "__abs__", None),
}
METHODS = ("exp", "log", "tanh", "relu", "sigmoid", "sin", "cos", "sqrt")


def refuse_constant(name):
    raise ValueError("%s is not JSON" % name)


def json_codec():
    """``(loads, dumps)`` for protocol lines: strict JSON in (no NaN tokens, nothing after the
    value), compact JSON out, non-finite numbers refused. From json's C half (_json) where there
    is one: importing json itself brings re and enum, a third of this worker's start-up.
    Elsewhere (PyPy, an interpreter whose _json differs), json's own, with the same rules."""
    try:
        import _json

        class Context:  # what json.decoder.JSONDecoder gives the C scanner, with json.loads's defaults
            strict = True
            object_hook = object_pairs_hook = None
            parse_float, parse_int = float, int
            parse_constant = staticmethod(refuse_constant)

        def unencodable(value):
            raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

        scan = _json.make_scanner(Context)
        # json.dumps(..., allow_nan=False, separators=(",", ":")): markers, default, encoder,
        # indent, key and item separators, sort_keys, skipkeys, allow_nan
        encode = _json.make_encoder({}, unencodable, _json.encode_basestring_ascii, None, ":", ",",
                                    False, False, False)

        def loads(text):
            text = text.strip()
            try:
                value, end = scan(text, 0)
            except StopIteration:
                raise ValueError("not a JSON value") from None
            if end != len(text):
                raise ValueError("extra data after the JSON value")
            return value

        def dumps(value):
            return "".join(encode(value, 0))

        if loads(dumps({"a": [1, 2.5, "\u00e9", None, True]})) != {"a": [1, 2.5, "\u00e9", None, True]}:
            raise ValueError("this _json is not the one expected")
        return loads, dumps
    except (ImportError, AttributeError, TypeError, ValueError):
        import json

        def json_loads(text):
            return json.loads(text, parse_constant=refuse_constant)

        def json_dumps(value):
            return json.dumps(value, allow_nan=False, separators=(",", ":"))

        return json_loads, json_dumps


class Failure(Exception):
    """A step that did not work: carries the protocol's error object."""

    def __init__(self, error):
        Exception.__init__(self, error.get("message", ""))
        self.error = error


# -- reading whatever the engine gives back, without trusting it -----------------------------------


def text(value):
    """str(value), however hostile its __str__, cut to the protocol's limit."""
    try:
        shown = value if isinstance(value, str) else str(value)
    except BaseException:
        shown = "<unprintable %s>" % type(value).__name__
    return shown if len(shown) <= TEXT_LIMIT else shown[: TEXT_LIMIT - 3] + "..."


def encode(number):
    """A JSON-safe number: non-finite values as the strings the protocol names."""
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def decode(number):
    if isinstance(number, str):
        return float(number)  # "nan", "inf", "-inf"
    return number


def shown_path(path):
    """A path under the scratch directory relative to it: the parent maps it back to the user's file."""
    full = os.path.abspath(path)
    here = os.getcwd() + os.sep
    return text(full[len(here) :] if full.startswith(here) else path)


def engine_frames(exc):
    """The traceback's frames outside this file and Python's import machinery, innermost last."""
    frames = []
    tb = exc.__traceback__
    # Walked by hand, not with the traceback module: its import (linecache, tokenize) is part of
    # every worker's start, and extract_tb reads each frame's source line, which is not needed.
    while tb is not None:
        code, line, tb = tb.tb_frame.f_code, tb.tb_lineno, tb.tb_next
        name = code.co_filename
        if name.startswith("<frozen") or os.path.abspath(name) == HERE:
            continue
        frames.append({"file": shown_path(name), "line": line or 0, "function": text(code.co_name)})
    return frames


def raised(exc):
    frames = engine_frames(exc)
    if isinstance(exc, SyntaxError) and exc.filename:  # where the syntax is, not where importing failed
        frames.append({"file": shown_path(exc.filename), "line": exc.lineno or 0, "function": "<module>"})
        message = exc.msg
    else:
        message = exc
    return {
        "kind": "raised",
        "type": type(exc).__name__,
        "message": text(message),
        "frames": frames[-FRAME_LIMIT:],
        "depth": len(frames),
    }


# -- finding the engine's own names ------------------------------------------------------------------


def attribute_names(obj):
    """Instance attributes, from __dict__ and __slots__ alike."""
    names = []
    try:
        names.extend(vars(obj))
    except TypeError:
        pass
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if isinstance(n, str)]


def holds(container, members):
    try:
        items = list(container)
    except BaseException:
        return False
    return any(item is m for item in items for m in members)


def takes_keyword(cls, name):
    """Does ``cls(...)`` take a parameter ``name`` by keyword (its own ``__init__``'s, not object's)?"""
    code = getattr(getattr(cls, "__init__", None), "__code__", None)
    if code is None:
        return False
    first = getattr(code, "co_posonlyargcount", 0)  # positional-only ones cannot be named
    return name in code.co_varnames[first : code.co_argcount + code.co_kwonlyargcount]


class Engine:
    """The engine class and how to read it: every role's attribute name."""

    def __init__(self, cls, given):
        self.cls = cls
        self.spellings = dict.fromkeys(ROLES)
        self.spellings.update({role: name for role, name in given.items() if role in self.spellings})
        leaf = cls(2.0)
        self._find(leaf, "data", lambda value: float(value) == 2.0)
        if self.spellings["data"] is None:
            raise Failure(
                {
                    "kind": "raised",
                    "type": "TypeError",
                    "frames": [],
                    "message": "%s(2.0) keeps 2.0 in none of the attributes %s"
                    % (cls.__name__, ", ".join(CANDIDATES["data"])),
                }
            )
        # Leaves that must opt in to gradients, torch style (``Value(x, requires_grad=True)``,
        # or a spelling of its own such as ``require_grad``): whatever the engine keeps the
        # flag as, the checker's inputs are made with it.
        self.opt_in = next((n for n in CANDIDATES["requires_grad"] if takes_keyword(cls, n)), None)
        self._find(leaf, "grad", lambda value: value is None or isinstance(float(value), float))
        self.backward_function = None  # a module-level backward(loss), when that is the engine's way
        self._find(leaf, "backward", callable)
        if self.spellings["backward"] is None or ":" in self.spellings["backward"]:
            self._find_backward_function()
        self._find(leaf, "requires_grad", lambda value: value is False)
        self._find(leaf, "label", lambda value: isinstance(value, str))
        if self.spellings["label"] is None:
            try:  # no label of its own: give nodes one where the class lets us, for readable reports
                leaf.label = ""
                self.spellings["label"] = "label"
            except BaseException:
                pass
        if self.spellings["backward"] is None:
            raise Failure(
                {
                    "kind": "raised",
                    "type": "TypeError",
                    "frames": [],
                    "message": "%s(2.0) has no backward method (looked for %s), nor does its module "
                    "define a function of those names (name one with --names backward=module:function)"
                    % (cls.__name__, ", ".join(CANDIDATES["backward"])),
                }
            )
        self._find_graph_roles()

    def _find_backward_function(self):
        """A function ``backward(root)`` at module level: the one the spelling ``module:function``
        names, else one of the usual names in the class's own module (``module:function`` then)."""
        import importlib

        given = self.spellings["backward"]
        if given is not None:
            module_name, _, name = given.partition(":")
            try:
                module = importlib.import_module(module_name)
            except BaseException as exc:
                raise Failure(raised(exc)) from None
            function = getattr(module, name, None)
            if not callable(function):
                raise Failure(
                    {"kind": "missing", "type": "AttributeError", "name": text(given), "frames": [],
                     "message": text("module %s has no function %s" % (module_name, name))}
                )
            self.backward_function = function
            return
        module = sys.modules.get(getattr(self.cls, "__module__", ""))
        for name in CANDIDATES["backward"]:
            function = getattr(module, name, None)
            code = getattr(function, "__code__", None)
            if code is not None and code.co_argcount >= 1:
                self.backward_function = function
                self.spellings["backward"] = "%s:%s" % (module.__name__, name)
                return

    def backward(self, node):
        """Run the engine's backward pass from ``node``: its method, or its module's function."""
        if self.backward_function is not None:
            self.backward_function(node)
        else:
            getattr(node, self.spellings["backward"])()

    def _find(self, obj, role, fits):
        if self.spellings[role] is not None:
            return
        for name in CANDIDATES[role]:
            try:
                if fits(getattr(obj, name)):
                    self.spellings[role] = name
                    return
            except BaseException:
                continue

    def _find_graph_roles(self):
        """Build ``a + b`` (or ``a * b``) and see where the node keeps a and b, and its op's text."""
        a, b = self.leaf(3.0, ""), self.leaf(-2.0, "")
        node = None
        for combine in (operator.add, operator.mul, operator.sub):
            try:
                node = combine(a, b)
                break
            except BaseException:
                continue
        if node is None:
            return
        if self.spellings["inputs"] is None:
            found = [n for n in CANDIDATES["inputs"] if self._attr_holds(node, n, (a, b))]
            found = found or [n for n in attribute_names(node) if self._attr_holds(node, n, (a, b))]
            if found:
                self.spellings["inputs"] = found[0]
        if self.spellings["op"] is None:
            skip = {self.spellings["label"], self.spellings["data"]}
            names = list(CANDIDATES["op"]) + attribute_names(node)
            for name in names:
                if name in skip:
                    continue
                try:
                    value = getattr(node, name)
                except BaseException:
                    continue
                if isinstance(value, str) and value:
                    self.spellings["op"] = name
                    return

    @staticmethod
    def _attr_holds(node, name, members):
        try:
            value = getattr(node, name)
        except BaseException:
            return False
        return not isinstance(value, (str, bytes)) and not callable(value) and holds(value, members)

    # -- using it --

    def is_node(self, obj):
        """A node of this engine: its data and its backward method (a numpy array has `.data` too)."""
        if isinstance(obj, (int, float, bool)) or not hasattr(obj, self.spellings["data"]):
            return False
        backward = self.spellings["backward"]
        if backward is None or self.backward_function is not None:
            return True  # no backward method to tell a node by: its data must do
        return callable(getattr(obj, backward, None))

    def leaf(self, number, label):
        value = self.cls(number, **{self.opt_in: True}) if self.opt_in else self.cls(number)
        if self.spellings["requires_grad"] is not None:
            setattr(value, self.spellings["requires_grad"], True)
        if label and self.spellings["label"] is not None:
            try:
                setattr(value, self.spellings["label"], label)
            except BaseException:
                pass
        return value

    def data(self, node):
        return float(getattr(node, self.spellings["data"]))

    def grad(self, node):
        value = getattr(node, self.spellings["grad"]) if self.spellings["grad"] is not None else None
        return None if value is None else float(value)

    def inputs(self, node):
        """The node's inputs that are nodes, and whether the engine keeps them unordered."""
        if self.spellings["inputs"] is None:
            return [], False
        container = getattr(node, self.spellings["inputs"], ())
        if container is None:
            return [], False
        unordered = isinstance(container, (set, frozenset))
        return [item for item in list(container) if self.is_node(item)], unordered

    def op_text(self, node):
        if self.spellings["op"] is None:
            return ""
        value = getattr(node, self.spellings["op"], "")
        return "" if value is None else text(value)

    def label(self, node):
        if self.spellings["label"] is None:
            return ""
        value = getattr(node, self.spellings["label"], "")
        return value if isinstance(value, str) and len(value) <= TEXT_LIMIT else ""

    def definitions(self):
        """Where the engine defines each method the programs can call."""
        names = [n for _, method, reflected in OPERATORS.values() for n in (method, reflected) if n]
        names += list(METHODS) + [self.spellings["backward"], "__init__"]
        found = []
        if self.backward_function is not None:  # linked under "backward", as a method would be
            code = self.backward_function.__code__
            found.append({"name": "backward", "file": shown_path(code.co_filename),
                          "line": code.co_firstlineno, "function": text(code.co_name)})
        for name in names:
            function = getattr(getattr(self.cls, name, None), "__func__", getattr(self.cls, name, None))
            code = getattr(function, "__code__", None)
            if code is not None:
                found.append(
                    {
                        "name": name,
                        "file": shown_path(code.co_filename),
                        "line": code.co_firstlineno,
                        "function": text(code.co_name),
                    }
                )
        return found

    def backward_source(self, node, operands):
        """Where ``node``'s own backward rule is written -- a function kept on the node (micrograd's
        ``_backward`` closure) -- and, for each of ``operands``, the line that writes its gradient.

        The place is the first line that assigns a gradient (else the first line of the body);
        None for an engine that keeps no function per node (a table of rules). An operand's line
        is None where the rule does not assign ``.grad`` to it by a name of its closure.
        """
        functions = []
        for name in attribute_names(node):
            try:
                value = getattr(node, name)
            except BaseException:
                continue
            code = getattr(value, "__code__", None)
            if code is not None and not isinstance(value, type) and os.path.abspath(code.co_filename) != HERE:
                functions.append(("backward" not in name.lower(), value, code))
        if not functions:
            return None, []
        functions.sort(key=lambda found: found[0])  # an attribute named for backward first
        function, code = functions[0][1], functions[0][2]
        import dis  # only here: a located failure, never a passing check, pays for it

        body, writes, line, first_load, previous = [], {}, None, None, None
        for instruction in dis.get_instructions(code):
            number = getattr(instruction, "line_number", None)  # 3.13; before, starts_line is the number
            starts = instruction.starts_line
            if number is None and isinstance(starts, int) and not isinstance(starts, bool):
                number = starts
            if number is not None and number != line:
                line, first_load = number, None
                if line != code.co_firstlineno and line not in body:
                    body.append(line)
            loads = instruction.opname.startswith("LOAD_") and isinstance(instruction.argval, str)
            if loads and first_load is None:
                first_load = instruction.argval
            if instruction.opname == "STORE_ATTR" and instruction.argval == self.spellings["grad"]:
                # `v.grad = e` loads v just before the store; `v.grad += e` loads it first on its line
                plain = previous is not None and previous.opname.startswith("LOAD_")
                target = previous.argval if plain and isinstance(previous.argval, str) else first_load
                writes.setdefault(line, target)
            previous = instruction
        shown = next((n for n in writes if n is not None), body[0] if body else code.co_firstlineno)
        cells = {}
        for name, cell in zip(code.co_freevars, getattr(function, "__closure__", None) or ()):
            try:
                cells[name] = cell.cell_contents
            except ValueError:  # an empty cell
                pass
        lines = []
        for operand in operands:
            held = [n for n, held_value in cells.items() if held_value is operand]
            lines.append(next((n for n, target in writes.items() if n is not None and target in held), None))
        qualname = text(getattr(function, "__qualname__", code.co_name)).replace(".<locals>", "")
        return {"file": shown_path(code.co_filename), "line": shown, "function": qualname}, lines

    def source(self):
        module = sys.modules.get(getattr(self.cls, "__module__", ""), None)
        path = getattr(module, "__file__", None)
        if not path:
            return None
        line = 0
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for number, content in enumerate(handle, 1):
                    if content.lstrip().startswith("class %s" % self.cls.__name__):
                        line = number
                        break
        except OSError:
            pass
        return {"file": shown_path(path), "line": line, "function": text(self.cls.__name__)}


# -- loading ---------------------------------------------------------------------------------------


# A module made of a notebook's code cells starts with CELLS_MARK, and each cell with CELL_MARK
# and its number (written by twingrad/check/target.py, which this file cannot import).
CELLS_MARK = "# twingrad: notebook cells"
CELL_MARK = "# %% cell "
CELL_SECONDS = 2.0  # what a cell after the class may take before it is stopped and skipped


class CellOverran(BaseException):
    """A cell after the class ran past CELL_SECONDS (a BaseException: a cell's `except
    Exception` must not swallow it)."""


def run_cells(module, path, name):
    """Run a notebook's code cells as Jupyter would: in order, statement by statement, in one
    namespace (the module's), so a cell that makes ``a = Value(2.0)`` and then uses ``a`` works.

    The rule (docs/corpus.md, "Notebooks"): every statement up to the one that last defines the
    class ``name`` must run; a failure there stops loading, naming the cell. What follows uses
    the class (examples, training, plots, a call of the checker): a statement that raises, or a
    cell after the class's that runs past CELL_SECONDS, skips the rest of its cell, as Jupyter
    skips the rest of a failing cell, and the next cell runs.
    """
    import ast

    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    cell_of = []  # cell number of each line
    number = 0
    for line in source.splitlines():
        if line.startswith(CELL_MARK):
            number = int(line[len(CELL_MARK) :])
        cell_of.append(number)
    statements = ast.parse(source, path).body
    defining = [k for k, s in enumerate(statements) if isinstance(s, ast.ClassDef) and s.name == name]
    last = defining[-1] if defining else -1  # statements past it only use the finished class
    class_cell = cell_of[statements[last].lineno - 1] if defining else 0
    cells = []  # [(cell number, [(position, statement)])]
    for position, statement in enumerate(statements):
        number = cell_of[statement.lineno - 1]
        if not cells or cells[-1][0] != number:
            cells.append((number, []))
        cells[-1][1].append((position, statement))
    namespace = module.__dict__
    flags = 0  # `from __future__ import ...` holds for every later statement, as in IPython
    for number, body in cells:
        position = -1
        try:
            with CellAllowance(CELL_SECONDS if body[0][0] > last else None):
                for at, statement in body:
                    position = at  # where a failure happened, for the rule
                    code = compile(ast.Module([statement], []), path, "exec", flags, True)
                    exec(code, namespace)
                    if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                        import __future__

                        for alias in statement.names:
                            flags |= getattr(__future__, alias.name).compiler_flag
        except BaseException as exc:
            if position > last and isinstance(exc, (Exception, CellOverran)):
                continue  # a use of the finished class: the rest of the cell is skipped
            error = raised(exc)
            if isinstance(exc, CellOverran):
                error["type"], error["message"] = "TimeoutError", "ran past %g s" % CELL_SECONDS
            error["message"] = text(
                "%s -- cell %d runs before the class %s is complete (cell %d), so it must run: "
                "fix it, or put a line `# twingrad: skip` in it to leave it out"
                % (error["message"], number, name, class_cell)
            )
            raise Failure(error) from None


class CellAllowance:
    """Stop the cell after ``seconds`` (None: no limit) with CellOverran, where a timer can."""

    def __init__(self, seconds):
        self.seconds = seconds if hasattr(__import__("signal"), "setitimer") else None
        self.previous = None

    def __enter__(self):
        if self.seconds is not None:
            import signal

            def overran(signum, frame):
                raise CellOverran()

            self.previous = signal.signal(signal.SIGALRM, overran)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.seconds is not None:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def is_notebook_cells(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == CELLS_MARK
    except (OSError, UnicodeDecodeError):
        return False


def import_file(path, attribute=""):
    """Import a file as its own Python would: its folder (or its package's) on sys.path, under
    its own module name, so that sibling files importing it get this very module. A notebook's
    cells (`run_cells`) run in a module of that name too."""
    import importlib

    path = os.path.abspath(path)
    folder, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):  # inside a package: import it as one
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    name = ".".join(parts)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    if is_notebook_cells(path):
        module = type(sys)(name)
        module.__file__ = path
        sys.modules[name] = module
        run_cells(module, path, attribute.split(".")[0])
        return module
    clash = sys.modules.get(name)
    if clash is not None and os.path.abspath(getattr(clash, "__file__", "") or "") != path:
        # The file shares its name with a module already loaded here (the standard library's
        # `operator`, say): load it from its path under that name, for its siblings to find.
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(name)


def load(request):
    import importlib

    for folder in request.get("path") or []:
        folder = os.path.abspath(folder)  # relative to the scratch folder this worker runs in
        if folder not in sys.path:
            sys.path.insert(0, folder)
    target = request.get("target")
    if not target:
        raise Failure({"kind": "raised", "type": "ValueError", "message": "no target to load", "frames": []})
    try:
        if "file" in target:
            module = import_file(target["file"], target.get("attribute", ""))
        else:
            module = importlib.import_module(target["module"])
    except Failure:
        raise
    except BaseException as exc:
        raise Failure(raised(exc)) from None
    found = module
    for part in target["attribute"].split("."):
        if not hasattr(found, part):
            classes = sorted(
                k
                for k, v in vars(module).items()
                if isinstance(v, type) and getattr(v, "__module__", None) == module.__name__
            )
            raise Failure(
                {
                    "kind": "missing",
                    "type": "AttributeError",
                    "name": text(target["attribute"]),
                    "message": text(
                        "it defines: " + ", ".join(classes) if classes else "it defines no class"
                    ),
                    "frames": [],
                }
            )
        found = getattr(found, part)
    if not callable(found):
        raise Failure(
            {"kind": "returned", "type": type(found).__name__, "message": text(repr(found)), "frames": []}
        )
    try:
        return Engine(found, request.get("spellings") or {})
    except Failure:
        raise
    except BaseException as exc:
        raise Failure(raised(exc)) from None


# -- running programs -------------------------------------------------------------------------------


class Run:
    """One program on the engine: its named values, and stable ids for every object it sees."""

    def __init__(self, engine, program, progress):
        self.engine = engine
        self.program = program
        self.progress = progress
        self.values = {}
        self.ids = {}
        self.kept = []  # every object given an id stays alive, so no id() is reused meanwhile
        self.steps = []
        self.observations = []

    def node_id(self, obj):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = len(self.ids)
            self.kept.append(obj)
        return self.ids[key]

    def trace(self):
        previous = {}
        for at, step in enumerate(self.program["steps"]):
            # Where a phase starts (the parent names the phase a timed-out step was in): one
            # message for a run of nudged leaves, not one each (a network's case has dozens).
            phase = "backward" in step or "observe" in step or ("nudged" in step and "nudged" not in previous)
            if at == 0 or phase:
                self.progress(at)
            previous = step
            try:
                self.steps.append(self.step(step))
            except Failure as failure:
                self.steps.append({"ok": False, "error": failure.error})
                break
            except (KeyError, IndexError, TypeError, ValueError) as exc:  # a program it cannot follow
                error = {"kind": "raised", "type": "ProtocolError", "message": text(repr(exc)), "frames": []}
                self.steps.append({"ok": False, "error": error})
                break
        return {
            "name": text(self.program.get("name", "")),
            "steps": self.steps,
            "observations": self.observations,
        }

    def step(self, step):
        if "let" in step:
            value = self.make(step)
            self.values[step["let"]] = value
            made = {"ok": True, "node": self.node_id(value)}
            if step.get("locate_backward"):  # a probe asks where the op's backward rule is written
                operands = [self.argument(arg) for arg in step.get("args", [])]
                try:
                    where, lines = self.engine.backward_source(value, operands)
                except BaseException:
                    where, lines = None, []
                if where is not None:
                    made["backward"] = where
                    made["backward_inputs"] = [n if self.engine.is_node(o) else None
                                               for n, o in zip(lines, operands)]
            return made
        if "backward" in step:
            node = self.values[step["backward"]]
            try:
                self.engine.backward(node)
            except BaseException as exc:
                raise Failure(raised(exc)) from None
            return {"ok": True}
        if "observe" in step:
            self.observations.append(self.observe(self.values[step["observe"]]))
            return {"ok": True}
        if "read" in step:  # one node's numbers, no graph: all a passing case needs
            node = self.values[step["read"]]
            try:
                grad = self.engine.grad(node)
                return {"ok": True, "data": encode(self.engine.data(node)),
                        "grad": None if grad is None else encode(grad)}
            except BaseException as exc:
                error = raised(exc)
                error["kind"] = "unreadable"
                raise Failure(error) from None
        raise Failure({"kind": "raised", "type": "ValueError", "message": "unknown step", "frames": []})

    def make(self, step):
        label = step.get("label", "")
        try:
            if "value" in step:
                return self.engine.leaf(decode(step["value"]), label)
            if "nudged" in step:
                source = self.values[step["nudged"]]
                moved = self.engine.data(source) + decode(step["step"]) * (self.engine.grad(source) or 0.0)
                return self.engine.leaf(moved, label)
        except BaseException as exc:
            raise Failure(raised(exc)) from None
        return self.apply(step["apply"], [self.argument(a) for a in step["args"]])

    def argument(self, arg):
        return self.values[arg["ref"]] if "ref" in arg else decode(arg["number"])

    def apply(self, name, args):
        try:
            if name in OPERATORS:
                function, method, reflected = OPERATORS[name]
                try:
                    out = function(*args)
                except TypeError as exc:
                    if engine_frames(exc):
                        raise
                    # Python's dispatch found no implementation: the engine lacks this operator.
                    wanted = method if self.engine.is_node(args[0]) else reflected
                    raise Failure(
                        {
                            "kind": "missing",
                            "type": "TypeError",
                            "name": wanted or method,
                            "message": text(exc),
                            "frames": [],
                        }
                    ) from None
            else:
                try:
                    bound = getattr(args[0], name)
                except AttributeError as exc:
                    if engine_frames(exc):
                        raise
                    raise Failure(
                        {
                            "kind": "missing",
                            "type": "AttributeError",
                            "name": name,
                            "message": text(exc),
                            "frames": [],
                        }
                    ) from None
                out = bound(*args[1:])
        except Failure:
            raise
        except BaseException as exc:
            raise Failure(raised(exc)) from None
        if not self.engine.is_node(out):
            error = {"kind": "returned", "type": type(out).__name__, "message": text(repr(out)), "frames": []}
            if isinstance(out, (int, float)) and not isinstance(out, bool):
                error["number"] = encode(float(out))
            raise Failure(error)
        return out

    def observe(self, root):
        """Every node reachable from ``root``, then the program's own values."""
        engine = self.engine
        nodes, seen = [], set()
        queue = [root, *self.values.values()]  # first in, first out: `at` walks it (no deque import)
        at = 0
        try:
            while at < len(queue):
                obj = queue[at]
                at += 1
                ident = self.node_id(obj)
                if ident in seen:
                    continue
                seen.add(ident)
                if len(seen) > NODE_LIMIT:
                    raise Failure(
                        {
                            "kind": "unreadable",
                            "type": "OverflowError",
                            "frames": [],
                            "message": "the graph has more than %d nodes" % NODE_LIMIT,
                        }
                    )
                inputs, unordered = engine.inputs(obj)
                queue.extend(inputs)
                grad = engine.grad(obj)
                nodes.append(
                    {
                        "id": ident,
                        "data": encode(engine.data(obj)),
                        "grad": None if grad is None else encode(grad),
                        "op": engine.op_text(obj),
                        "inputs": [self.node_id(i) for i in inputs],
                        "unordered": unordered,
                        "label": text(engine.label(obj)),
                    }
                )
        except Failure:
            raise
        except BaseException as exc:
            error = raised(exc)
            error["kind"] = "unreadable"
            raise Failure(error) from None
        return {"root": self.node_id(root), "nodes": nodes}


# -- the conversation --------------------------------------------------------------------------------


class Requests:
    """The request lines, read into one buffer that grows with the longest line only.

    A pipe hands over a long request in chunks whose sizes depend on timing; reading them
    through a growing buffer (not a list of chunks joined) keeps this process's memory, and
    so the addresses of the engine's objects, the same whatever the timing.
    """

    def __init__(self, fd):
        self.fd = fd
        self.buffer = bytearray(1 << 20)
        self.filled = 0

    def __iter__(self):
        return self

    def __next__(self):
        start = 0
        while True:
            end = self.buffer.find(b"\n", start, self.filled)
            if end >= 0:
                line = bytes(self.buffer[:end])
                rest = self.filled - end - 1
                self.buffer[:rest] = self.buffer[end + 1 : self.filled]
                self.filled = rest
                return line
            start = self.filled
            if self.filled == len(self.buffer):
                self.buffer.extend(bytes(len(self.buffer)))  # doubles: depends on the line's size alone
            with memoryview(self.buffer) as view:
                count = os.readv(self.fd, [view[self.filled :]])
            if count == 0:
                raise StopIteration
            self.filled += count


def take_channel():
    """Keep the protocol's pipes for this file: the engine's prints go to stderr, its stdin is empty."""
    requests = Requests(os.dup(0))
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    return requests, answers


ADDR_NO_RANDOMIZE = 0x0040000


def stable_addresses():
    """Run this worker with address-space randomisation off, where Linux allows it.

    An engine that keeps nodes in a set walks them in an order set by their addresses; with
    the same requests, a worker without randomisation makes the same objects at the same
    addresses, so such an engine computes -- and its report reads -- the same on every run.
    The switch needs a fresh exec of this file, once, before the protocol starts.
    """
    if not sys.platform.startswith("linux") or os.environ.get("TWINGRAD_WORKER_STABLE"):
        return
    try:  # the sandbox's launcher has usually turned it off already: no need for ctypes then
        with open("/proc/self/personality", "rb") as handle:
            if int(handle.read(), 16) & ADDR_NO_RANDOMIZE:
                return
    except (OSError, ValueError):
        pass
    try:
        import ctypes

        personality = ctypes.CDLL(None, use_errno=True).personality
        current = personality(0xFFFFFFFF)
        if current == -1 or current & ADDR_NO_RANDOMIZE or personality(current | ADDR_NO_RANDOMIZE) == -1:
            return
    except Exception:
        return
    os.environ["TWINGRAD_WORKER_STABLE"] = "1"
    os.execv(sys.executable, [sys.executable, "-s", HERE])


def serve():
    here = os.path.dirname(HERE)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]  # nothing of ours to import
    requests, answers = take_channel()
    engine = None
    loads, dumps = json_codec()

    def send(message):
        answers.write(dumps(message).encode("utf-8") + b"\n")
        answers.flush()

    for line in requests:
        request = loads(line.decode("utf-8"))
        kind = request["type"]
        envelope = {"id": request["id"], "nonce": request["nonce"], "type": kind}
        if kind == "hello":
            version = "%d.%d.%d" % sys.version_info[:3]
            send(
                dict(
                    envelope,
                    protocol=PROTOCOL,
                    worker={"name": "twingrad-pyworker", "language": "python", "version": version},
                )
            )
        elif kind == "load":
            try:
                engine = load(request)
                send(
                    dict(
                        envelope,
                        ok=True,
                        engine={
                            "name": text(engine.cls.__name__),
                            "source": engine.source(),
                            "spellings": engine.spellings,
                            "definitions": engine.definitions(),
                        },
                    )
                )
            except Failure as failure:
                send(dict(envelope, ok=False, error=failure.error))
        elif kind == "run":

            def progress(at, envelope=envelope):
                send({"id": envelope["id"], "nonce": envelope["nonce"], "type": "progress", "at": at})

            traces = [Run(engine, program, progress).trace() for program in request["programs"]]
            send(dict(envelope, traces=traces))
        elif kind == "bye":
            send(envelope)
            break


if __name__ == "__main__":
    stable_addresses()
    serve()
    # The engine may have started threads or left atexit hooks; nothing of it may delay the end.
    sys.stdout.flush()
    os._exit(0)
