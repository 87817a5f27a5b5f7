"""Loading the engine to check: TARGET forms, and every way loading fails as one clear line.

Loading happens in the worker (the engine's code never runs here); these tests go
through `check_engine` with one quick case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twingrad.check import check_engine
from twingrad.check.target import OWN_ENGINE, Target, TargetError, locate, parse, prepare

ENGINES = Path(__file__).parent / "engines"


def test_parse_tells_files_from_modules() -> None:
    assert parse("my_engine.py:Value") == Target("my_engine.py:Value", None, Path("my_engine.py"), "Value")
    assert parse("pkg/engine:Value").path == Path("pkg/engine")
    module = parse("micrograd.engine:Value")
    assert module == Target("micrograd.engine:Value", "micrograd.engine", None, "Value")
    assert parse("mod:Outer.Value").attribute == "Outer.Value"
    assert parse(None).spec == OWN_ENGINE


@pytest.mark.parametrize("spec", ["my_engine.py", "my_engine.py:", ":Value", "mod:not-a-name", "1mod:Value"])
def test_malformed_targets_are_refused(spec: str) -> None:
    with pytest.raises(TargetError):
        parse(spec)


def _loads(spec: str) -> bool:
    return check_engine(spec, only=["seed_graph"]).result("seed_graph").status == "pass"


def test_loads_a_module_a_file_and_a_file_importing_its_neighbour() -> None:
    assert _loads("micrograd.engine:Value")
    assert _loads(f"{ENGINES}/variants.py:SetChildren")  # imports reference.py beside it
    assert _loads(OWN_ENGINE)


def test_a_file_is_one_module_however_its_siblings_import_it(tmp_path: Path) -> None:
    """engine.py defines Value; ops.py adds tanh to it with `import engine`: one class, not two."""
    (tmp_path / "engine.py").write_text((ENGINES / "reference.py").read_text() + "\nimport ops  # noqa\n")
    (tmp_path / "ops.py").write_text(
        "import engine\n\n"
        "def double(self):\n    return self * 2\n\n"
        "assert engine.Value is not None\n"
        "engine.Value.double = double\n"
    )
    run = check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph", "unary_tanh", "reuse_a_plus_a"])
    assert run.ok, run


def test_a_module_of_a_package_is_loaded_as_part_of_it(tmp_path: Path) -> None:
    package = tmp_path / "mygrad"
    package.mkdir()
    (package / "__init__.py").write_text("from .engine import Value\n")
    (package / "engine.py").write_text(
        (ENGINES / "reference.py")
        .read_text()
        .replace("import math", "import math\nfrom . import helpers  # a relative import: needs the package")
    )
    (package / "helpers.py").write_text("HELP = 1\n")
    assert _loads(f"{package / 'engine.py'}:Value")
    prepared = prepare(parse(f"{package / 'engine.py'}:Value"))
    assert prepared.load == {"file": "engine/mygrad/engine.py", "attribute": "Value"}
    assert prepared.shown("engine/mygrad/engine.py") == str(package / "engine.py")


def _file(tmp_path: Path, source: str) -> str:
    path = tmp_path / "engine.py"
    path.write_text(source)
    return str(path)


@pytest.mark.parametrize(
    ("source", "attribute", "message"),
    [
        ("class Value: pass\n", "Valeu", "has no attribute 'Valeu' (it defines: Value)"),
        ("x = 1\n", "Value", "has no attribute 'Value' (it defines no class)"),
        ("class Value(:\n", "Value", "does not parse: SyntaxError: "),
        (
            "import math\nraise RuntimeError('boom')\n",
            "Value",
            "RuntimeError: boom (engine.py:2 in <module>)",
        ),
        ("import sys\nsys.exit(3)\n", "Value", "SystemExit: 3"),
        ("Value = 3\n", "Value", "the target is a int, not a class"),
        (
            "class Value:\n    def __init__(self, data, label): pass\n",
            "Value",
            "TypeError: Value.__init__() missing 1 required positional argument: 'label'",
        ),
        (
            "class Value:\n    def __init__(self, data): self.data = data\n",
            "Value",
            "Value(2.0) has no backward method (looked for backward, backprop",
        ),
        (
            "class Value:\n    def __init__(self, data): self.d = data\n    def backward(self): pass\n",
            "Value",
            "Value(2.0) keeps 2.0 in none of the attributes data, val, value",
        ),
    ],
)
def test_what_cannot_be_loaded_says_why_in_one_line(
    tmp_path: Path, source: str, attribute: str, message: str
) -> None:
    with pytest.raises(TargetError) as caught:
        check_engine(f"{_file(tmp_path, source)}:{attribute}", only=["seed_graph"])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_and_module() -> None:
    with pytest.raises(TargetError, match=r"no such file: nowhere/engine\.py"):
        locate("nowhere/engine.py:Value")
    with pytest.raises(TargetError, match="no module named 'no_such_module_here'"):
        prepare(parse("no_such_module_here:Value"))


def test_syntax_of_a_newer_python_is_named(tmp_path: Path) -> None:
    engine = _file(tmp_path, 'names = ["a"]\nshown = f"{", ".join(names)}"\nclass Value: pass\n')
    with pytest.raises(TargetError) as caught:
        check_engine(
            f"{engine}:Value",
            only=["seed_graph"],
            python=str(Path.home() / ".pyenv/versions/3.8.18/bin/python"),
        )
    assert "does not parse" in str(caught.value)
    assert "needs Python 3.12" in str(caught.value) or "parses it" in str(caught.value)


def _notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    import json

    cell_list = [
        {
            "cell_type": kind,
            "metadata": {},
            "source": source.splitlines(keepends=True),
            **({"outputs": [], "execution_count": None} if kind == "code" else {}),
        }
        for kind, source in cells
    ]
    path.write_text(json.dumps({"cells": cell_list, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_notebook_is_checked_from_its_code_cells_up_to_the_class(tmp_path: Path) -> None:
    engine = (ENGINES / "reference.py").read_text()
    broken = engine.replace('"tanh": lambda x, out: 1 - out**2,', '"tanh": lambda x, out: 1 / 0,  # a crash')
    assert broken != engine
    notebook = _notebook(
        tmp_path / "lecture.ipynb",
        [
            ("markdown", "# My engine"),
            ("code", "%matplotlib inline\nimport math"),
            ("code", broken),
            ("code", "# twingrad: skip\nraise RuntimeError('a training cell, never run by the check')"),
            ("code", "raise RuntimeError('after the class: never run')"),
        ],
    )
    run = check_engine(f"{notebook}:Value", only=["seed_graph", "unary_tanh"])
    assert run.result("seed_graph").status == "pass"
    tanh = run.result("unary_tanh")
    assert tanh.status == "error" and "ZeroDivisionError" in tanh.detail
    assert tanh.source is not None and tanh.source.file.endswith("lecture.ipynb")
    assert "cell 3" in tanh.source.function
    line = broken.splitlines()[tanh.source.line - 1]
    assert "1 / 0" in line


def test_a_notebook_without_the_class_says_so(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path / "empty.ipynb", [("code", "x = 1")])
    with pytest.raises(TargetError, match="has no code cell defining `class Value`"):
        check_engine(f"{notebook}:Value", only=["seed_graph"])


def test_the_engines_pyproject_names_what_cannot_be_found(tmp_path: Path) -> None:
    renamed = "\n\nValue.run_back = Value.backward\ndel Value.backward\n"  # a name no one would guess
    source = (ENGINES / "reference.py").read_text() + renamed
    (tmp_path / "engine.py").write_text(source)
    with pytest.raises(TargetError, match="has no backward method"):
        check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"])
    config = '[project]\nname = "mine"\n\n[tool.twingrad.check]\nbackward = "run_back"\n'
    (tmp_path / "pyproject.toml").write_text(config)
    run = check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"])
    assert run.ok and "backward via run_back()" in run.reading
    (tmp_path / "pyproject.toml").write_text('[tool.twingrad.check]\ncolour = "red"\n')
    with pytest.raises(TargetError, match=r"\[tool.twingrad.check\] names the engine's attributes"):
        check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"])


def test_an_engine_among_other_files_sends_only_its_python_sources(tmp_path: Path) -> None:
    (tmp_path / "engine.py").write_text((ENGINES / "reference.py").read_text())
    (tmp_path / "big.bin").write_bytes(b"\0" * (80 << 20))  # more than a worker may receive
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("not an engine")
    prepared = prepare(parse(f"{tmp_path / 'engine.py'}:Value"))
    assert set(prepared.copy_in) == {"engine/engine.py"}
    assert _loads(f"{tmp_path / 'engine.py'}:Value")


def test_cell_code_keeps_every_cell_in_order_and_where_each_line_came_from() -> None:
    from twingrad.check.target import CELL_MARK, CELLS_MARK, cell_code

    cells = [
        "import math\nfrom twingrad.check import check_engine  # the checker: not part of the engine",
        "class Value:\n    pass\n\nN = 3\n%timeit N\nrun = check_engine(Value)",
        "# twingrad: skip\nfor _ in range(10**9):\n    pass",
        "def broken(:",  # does not parse: it never ran either
        "a = Value()",
    ]
    code, where = cell_code(cells, "Value")
    assert code.splitlines() == [
        CELLS_MARK,
        f"{CELL_MARK}1",
        "import math",
        "",
        f"{CELL_MARK}2",
        "class Value:",
        "    pass",
        "",
        "N = 3",
        "",
        "run = check_engine(Value)",
        f"{CELL_MARK}5",
        "a = Value()",
    ]
    assert where[2] == (1, 1) and where[-1] == (5, 1) and where[4] == (2, 0)
