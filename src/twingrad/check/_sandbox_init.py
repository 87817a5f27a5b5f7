"""The first program of a sandbox: set up the worker's world, then become the worker.

`sandbox.Sandbox` runs this file with the parent's own interpreter (``python -I -S``),
inside fresh namespaces when the platform has them, before any untrusted code runs. It
reads its plan from ``argv[1]`` (hex of `marshal`: cheaper to import than json), applies
it, says "ok" on the status pipe (naming any resource limit the platform refused), and
``execve``s the worker (``argv[3:]``, after a ``--``); with namespaces, it forks first and
stays as the worker's parent, and the worker's side builds a root file system of its own
(`_new_root`: an empty tmpfs with read-only binds of what the plan shows) before it
becomes the worker's user. It does every other planned step or the worker does not
run: on any failure it says why on the status pipe and exits with `FAILED`, so what the
parent reports as applied is what is in force.

Stdlib only, and as few imports as possible: they are part of every worker's start.
"""

from __future__ import annotations

# _signal, the C half of signal: the same calls without importing enum, which costs time here.
import _signal
import ctypes
import marshal
import os
import resource
import sys

FAILED = 125  # as env(1) and unshare(1): the launcher, not the program, failed

_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_MS_BIND, _MS_REC = 0x1000, 0x4000
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
# mount_setattr(2) has one number on every architecture but alpha (new syscalls share a table).
_SYS_MOUNT_SETATTR = 442
# pivot_root(2) has no libc wrapper, and older syscalls have a number per architecture.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41, "armv7l": 218,
                   "armv6l": 218, "i686": 217, "i386": 217, "s390x": 217, "ppc64le": 203, "ppc64": 203}
_MNT_DETACH = 2
_PR_SET_NO_NEW_PRIVS, _PR_SET_PDEATHSIG = 38, 1
_SIGKILL = 9
_ADDR_NO_RANDOMIZE = 0x0040000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_RLIMITS = {
    "memory_bytes": "RLIMIT_AS",
    "cpu_seconds": "RLIMIT_CPU",
    "file_bytes": "RLIMIT_FSIZE",
    "open_files": "RLIMIT_NOFILE",
    "processes": "RLIMIT_NPROC",
}


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


class _Libc:
    """The few Linux calls Python does not wrap; each raises OSError on failure."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        arguments = [None if s is None else os.fsencode(s) for s in (source, target, fstype)]
        options = None if data is None else os.fsencode(data)
        self._check(self._libc.mount(*arguments, ctypes.c_ulong(flags), options), f"mount {target}")

    def set_mount_attributes(self, path: str, set_: int, clear: int, recursive: bool) -> None:
        attr = _MountAttr(set_, clear, 0, 0)
        flags = _AT_RECURSIVE if recursive else 0
        self._check(self._libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, os.fsencode(path), flags,
                                       ctypes.byref(attr), ctypes.sizeof(attr)), f"mount_setattr {path}")

    def pivot_root(self) -> None:
        """Make the current directory the root and detach the old one (pivot_root(".", "."), which
        stacks the old root on the new one until it is unmounted). On an architecture missing
        from the table, chroot instead: the worker has no capability left to climb out of it."""
        number = _SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            os.chroot(".")
        else:
            self._check(self._libc.syscall(number, b".", b"."), "pivot_root")
            self._check(self._libc.umount2(b".", _MNT_DETACH), "umount the host's root")
        os.chdir("/")

    def prctl(self, option: int, value: int) -> None:
        self._check(self._libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")

    def keep_addresses(self) -> None:
        """Turn off address-space randomisation for the programs this one execs (best effort:
        a kernel or seccomp policy that refuses it leaves the worker randomised, nothing worse)."""
        current = self._libc.personality(0xFFFFFFFF)
        if current != -1:
            self._libc.personality(current | _ADDR_NO_RANDOMIZE)

    def drop_all_capabilities(self) -> None:
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()  # all zero: no effective, permitted or inheritable capability
        self._check(self._libc.capset(ctypes.byref(header), data), "capset")


def _new_root(libc: _Libc, plan: dict) -> None:
    """Build the worker's whole file system in an empty tmpfs, then make it the root.

    Every path to show is opened before anything is mounted and bound from that handle, at
    the path it has on the host; the covers (empty tmpfs) then hide what must not be seen
    inside what is shown (every site-packages, the checker's own package). All of it is
    read-only but the scratch directory. Finally the tmpfs becomes ``/`` (pivot_root) and the
    host's root is detached: no path leads back to it.
    """
    root = plan["root"]
    new = root["at"]
    shown = sorted({*root["binds"], plan["scratch"]}, key=lambda p: (p.count("/"), p))
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in shown}
    libc.mount("tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    for path in shown:
        inside = new + path
        if os.path.isdir(f"/proc/self/fd/{handles[path]}"):
            os.makedirs(inside, exist_ok=True)
        else:  # a file (/etc/ld.so.cache) or a device (/dev/null): mounted over an empty file
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            os.close(os.open(inside, os.O_CREAT | os.O_WRONLY, 0o644))
        libc.mount(f"/proc/self/fd/{handles[path]}", inside, None, _MS_BIND | _MS_REC)
        os.close(handles[path])
    for path, points_to in root["links"].items():  # /bin -> usr/bin, /dev/fd -> /proc/self/fd
        os.makedirs(os.path.dirname(new + path), exist_ok=True)
        os.symlink(points_to, new + path)
    for path in root["covers"]:
        if os.path.isdir(new + path):
            libc.mount("tmpfs", new + path, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=4k")
    # A /proc of the new PID namespace: the engine sees its own processes, not the host's.
    os.makedirs(new + "/proc", exist_ok=True)
    libc.mount("proc", new + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    # Everything read-only (device nodes such as /dev/null stay usable: ro guards files)...
    libc.set_mount_attributes(new, _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0, recursive=True)
    # ... except the scratch directory, which is writable again.
    libc.set_mount_attributes(new + plan["scratch"], _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV,
                              _MOUNT_ATTR_RDONLY, recursive=False)
    os.chdir(new)
    libc.pivot_root()


def _drop_privileges(libc: _Libc, plan: dict) -> None:
    if plan["user"] is not None:
        uid, gid = plan["user"]
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # from real root this also clears every capability
    elif plan["drop_capabilities"]:
        # Root of a user namespace of our own: without capabilities it cannot undo the mounts.
        libc.drop_all_capabilities()
    # no_new_privs: no setuid binary or file capability can give any of it back across exec.
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1)


def _set_limits(limits: dict[str, int]) -> list[str]:
    """Apply the limits this platform accepts (macOS refuses some); the names of the others."""
    refused = []
    for name, value in limits.items():
        # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL a second later if it is caught.
        hard = value + 1 if name == "cpu_seconds" else value
        try:
            resource.setrlimit(getattr(resource, _RLIMITS[name]), (value, hard))
        except (AttributeError, ValueError, OSError):
            refused.append(name)
    return refused


def _become_the_worker(plan: dict, program: list[str], status: int) -> None:
    try:
        libc = _Libc() if plan["namespaces"] or plan["user"] is not None else None
        if plan["namespaces"]:
            assert libc is not None
            libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL)  # if the launcher dies during the setup
            _new_root(libc, plan)
        os.chdir(plan["scratch"])
        refused = _set_limits(plan["limits"])
        if libc is not None:
            _drop_privileges(libc, plan)
        if plan["namespaces"]:
            assert libc is not None
            # Again, as a change of uid clears it: if the launcher is killed, the worker dies,
            # and with it, the PID namespace's init, everything it started.
            libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL)
        # Whether the (possibly dropped) user can run the program is the one thing execve could
        # still refuse; ask now, while a refusal can be reported.
        if not os.access(program[0], os.X_OK):
            raise OSError(f"{program[0]} is not executable by uid {os.getuid()}")
        os.write(status, f"ok {','.join(refused)}\n".encode())
        os.close(status)
        # Python ignores these for itself, and an ignored signal stays ignored across exec;
        # give the worker the defaults, as subprocess does.
        for number in (_signal.SIGPIPE, _signal.SIGXFSZ):
            _signal.signal(number, _signal.SIG_DFL)
        if libc is not None:
            # Without address randomisation the same requests give the same addresses, so an
            # engine keeping nodes in sets walks them in one order (pyworker.stable_addresses).
            libc.keep_addresses()
        os.execve(program[0], program, plan["env"])
    except (OSError, ValueError, AttributeError) as exc:  # AttributeError: no prctl, not Linux
        message = f"{type(exc).__name__}: {exc}" if isinstance(exc, AttributeError) else str(exc)
        # execve itself can still fail after "ok" (too many processes of nobody): then only
        # stderr, which the parent keeps, can tell.
        print(f"twingrad sandbox: {message}", file=sys.stderr)
        try:  # noqa: SIM105 -- contextlib would cost an import on every start
            os.write(status, message.encode())
        except OSError:
            pass
        os._exit(FAILED)


def _end_as_the_worker_ended(worker: int) -> None:
    """Wait for the worker and exit the same way, so that the parent sees its true status."""
    _, wait_status = os.waitpid(worker, 0)
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a SIGXCPU or SIGSEGV, not a core file
        if number != _signal.SIGKILL:  # the one that cannot be (and need not be) reset
            _signal.signal(number, _signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(os.waitstatus_to_exitcode(wait_status))


def main(argv: list[str]) -> None:
    plan = marshal.loads(bytes.fromhex(argv[1]))
    program = argv[3:]
    status = plan["status_fd"]
    if plan["namespaces"]:
        # unshare(1) made a new PID namespace for our children: the worker, forked here, is its
        # init, and when it dies the kernel kills everything else in it. We stay outside, as
        # the worker's parent, to pass its exit status on (unshare --fork loses signals).
        worker = os.fork()
        if worker:
            os.close(status)
            # Let go of the worker's pipes, so that the parent sees them end when the worker's do.
            quiet = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(quiet, fd)
            _end_as_the_worker_ended(worker)
    _become_the_worker(plan, program, status)


if __name__ == "__main__":
    main(sys.argv)
