"""Loading the engine to check: TARGET forms, and every way loading fails as one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from twingrad.check.target import OWN_ENGINE, Target, TargetError, load, locate, parse

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


def test_loads_a_module_a_file_and_a_file_importing_its_neighbour() -> None:
    import micrograd.engine

    assert load(parse("micrograd.engine:Value")) is micrograd.engine.Value
    assert load(parse(f"{ENGINES}/variants.py:TanhGrad")).__name__ == "TanhGrad"  # imports reference.py
    assert load(parse(OWN_ENGINE)).__module__ == "twingrad.engine"


def _file(tmp_path: Path, source: str) -> str:
    path = tmp_path / "engine.py"
    path.write_text(source)
    return str(path)


@pytest.mark.parametrize(
    ("source", "attribute", "message"),
    [
        ("class Value: pass\n", "Valeu", "has no attribute 'Valeu' (it defines: Value)"),
        ("x = 1\n", "Value", "has no attribute 'Value' (it defines no class)"),
        ("class Value(:\n", "Value", "SyntaxError: "),
        ("import math\nraise RuntimeError('boom')\n", "Value",
         "RuntimeError: boom (engine.py:2 in <module>)"),
        ("import sys\nsys.exit(3)\n", "Value", "SystemExit: 3"),
        ("Value = 3\n", "Value", "is a int, not a class"),
        ("class Value:\n    def __init__(self, data, label): pass\n", "Value",
         "Value(2.0) failed: TypeError"),
        ("class Value:\n    def __init__(self, data): self.data = data\n", "Value",
         "without .data and .backward(): not a micrograd-style Value"),
    ],
)
def test_what_cannot_be_loaded_says_why_in_one_line(tmp_path: Path, source: str, attribute: str,
                                                     message: str) -> None:
    with pytest.raises(TargetError) as caught:
        load(parse(f"{_file(tmp_path, source)}:{attribute}"))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_and_module() -> None:
    with pytest.raises(TargetError, match=r"no such file: nowhere/engine\.py"):
        locate("nowhere/engine.py:Value")
    with pytest.raises(TargetError, match="no module named 'no_such_module_here'"):
        load(parse("no_such_module_here:Value"))
