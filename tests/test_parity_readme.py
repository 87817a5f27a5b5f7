"""The README's Parity section runs as written and shows what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def parity_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Parity") : text.index("## Layout")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_examples_run_and_agree(capsys) -> None:
    compare_block, other_checks = parity_blocks()[:2]
    namespace: dict = {}
    exec(compare_block, namespace)
    assert namespace["report"].ok
    assert "all 7 nodes agree" in capsys.readouterr().out
    exec(other_checks, namespace)
    assert namespace["report"].ok and len(namespace["report"].steps) == 20
    assert namespace["n"]["L"].data == pytest.approx(-7.286496, abs=1e-12)  # compare_nudge took the step
