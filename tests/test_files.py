"""write_atomic: the whole file or the old one, never half."""

from __future__ import annotations

import os

import pytest

from twingrad.files import NotARegularFileError, write_atomic


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


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_what_is_not_a_regular_file_is_refused_and_left_alone(tmp_path, kind: str) -> None:
    real = write_atomic(tmp_path / "real.json", "kept")
    path = tmp_path / "report.json"
    if kind == "symlink":
        path.symlink_to(real)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(NotARegularFileError) as caught:
        write_atomic(path, "new")
    assert caught.value.filename == str(path)
    assert "refusing to replace it" in caught.value.strerror
    assert isinstance(caught.value, OSError)  # callers that report OSError need nothing new
    # Nothing was replaced, nothing was written through the link, no temporary is left.
    assert real.read_text() == "kept"
    assert path.is_symlink() if kind == "symlink" else not path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.json", "report.json"]


def test_a_device_is_refused() -> None:
    with pytest.raises(NotARegularFileError, match="it is a device"):
        write_atomic("/dev/null", "x")
