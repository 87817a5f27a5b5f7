"""write_atomic: the whole file or the old one, never half."""

from __future__ import annotations

import os

import pytest

from twingrad.files import write_atomic


def test_writes_text_and_bytes_and_creates_folders(tmp_path) -> None:
    assert write_atomic(tmp_path / "a" / "x.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert write_atomic(tmp_path / "y.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    mode = (tmp_path / "y.bin").stat().st_mode & 0o777
    assert mode == 0o666 & ~_current_umask()  # a normal file, not mkstemp's private 0600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    target = write_atomic(tmp_path / "report.json", "old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
