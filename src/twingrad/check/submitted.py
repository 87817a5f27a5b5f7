"""Reading and copying a submission's files as files: never a link out of it, never a FIFO or device.

The parent runs with the teacher's rights (often root). Whatever it reads of a submission
-- to copy it into a worker's scratch folder, to find what a module imports, to quote a
line of it in a report -- goes through here, so that a submission cannot make it read
something else: a symbolic link that leaves the submission's folder (``cfg.py ->
/proc/self/environ``) is refused, a FIFO or device is never opened for reading (it could
block forever or never end), and no read is larger than asked.

Stdlib only: `sandbox` uses it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 8 << 20  # one file of an engine; a larger one is not source anyone wrote
_SKIPPED = {"__pycache__"}  # with hidden entries (.git, .venv): no part of an engine, and can be big
_SPECIAL = "is not a regular file (a FIFO, device or socket is never read)"


class SubmissionFileError(ValueError):
    """A file of a submission that is not copied or read: a link out of it, not a regular file, too big."""


def inside(path: Path, root: Path) -> Path:
    """``path`` as a regular file inside ``root``, with links inside ``root`` resolved.

    `SubmissionFileError` (one line) for a link that leads out of ``root``, a FIFO, device
    or socket, or a file that is not there.
    """
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise SubmissionFileError(
            f"{path} is a symbolic link to {real}, outside {root}: only the submission's own files are copied"
        )
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise SubmissionFileError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise SubmissionFileError(f"{path} {_SPECIAL}")
    return real


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``: opened without following a final
    link and without blocking, checked to be a regular file before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionFileError(f"{path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SubmissionFileError(f"{path} {_SPECIAL}")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SubmissionFileError(f"{path} is larger than {limit >> 20} MiB")
    return data


def source_lines(path: Path, first: int, last: int, limit: int = MAX_FILE_BYTES) -> list[str]:
    """Lines ``first`` to ``last`` (counted from 1, both included) of the text file ``path``, read
    with `read_bounded`; [] when it cannot be read. For quoting a submission in a report."""
    if first < 1 or last < first:
        return []
    try:
        text = read_bounded(path, limit).decode("utf-8", errors="replace")
    except SubmissionFileError:
        return []
    return text.splitlines()[first - 1 : last]


def copy_file(source: Path, target: Path) -> None:
    """Copy the regular file ``source`` to the new file ``target``, its bytes (bounded) and whether
    its owner may run it (a compiled --exec worker must stay a program), nothing else."""
    data = read_bounded(source)
    runnable = os.lstat(source).st_mode & stat.S_IXUSR
    mode = 0o755 if runnable else 0o644
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def copy_tree(source: Path, target: Path) -> None:
    """Copy the folder ``source`` to ``target``: regular files as files, links that stay inside
    ``source`` as links to the same place of the copy, hidden entries and bytecode left out; a
    link leaving it, a FIFO, device or socket is a `SubmissionFileError`."""
    _copy_folder(source, target, Path(os.path.realpath(source)), target)


def _copy_folder(folder: Path, into: Path, root: Path, top: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name in _SKIPPED:
            continue
        destination = into / entry.name
        if entry.is_symlink():
            real = Path(os.path.realpath(entry.path))
            if not real.is_relative_to(root):
                raise SubmissionFileError(
                    f"{entry.path} is a symbolic link to {real}, outside {root}: "
                    "only the submission's own files are copied"
                )
            os.symlink(os.path.relpath(top / real.relative_to(root), into), destination)
        elif entry.is_dir(follow_symlinks=False):
            _copy_folder(Path(entry.path), destination, root, top)
        elif entry.is_file(follow_symlinks=False):
            copy_file(Path(entry.path), destination)
        else:
            raise SubmissionFileError(f"{entry.path} {_SPECIAL}")
