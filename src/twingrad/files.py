"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


class NotARegularFileError(OSError):
    """The path exists and is not a regular file: replacing it would destroy a link, FIFO or device."""


def _kind(mode: int) -> str | None:
    """What a non-regular file at a path is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def refuse_unless_replaceable(path: str | os.PathLike[str]) -> Path:
    """Raise `NotARegularFileError` unless ``path`` is absent or a regular file (links are not followed).

    The rename in `write_atomic` replaces whatever is at the path: a symlink would be
    swapped for a file instead of writing through it, and ``/dev/null`` (as root) would
    become a regular file for every other program. Refusing is the honest answer.
    """
    target = Path(path)
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there to destroy; the write says why
        return target
    kind = _kind(mode)
    if kind is not None:
        reason = f"it is {kind}; refusing to replace it with a regular file"
        raise NotARegularFileError(errno.EEXIST, reason, str(target))
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write ``content`` to ``path``: a reader sees the old file or the new one, never half.

    The data goes to a temporary file beside the target, which is then renamed over it;
    on any error the temporary file is removed and the target is left as it was. A path
    that holds anything but a regular file is refused (`refuse_unless_replaceable`).
    """
    target = refuse_unless_replaceable(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 suits secrets; these are reports
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
