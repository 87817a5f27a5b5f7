"""The sandbox holds against small hostile programs: files, processes, network, memory, CPU, output.

Each test runs a short Python script as the sandboxed worker, with the interpreter running
these tests. On Linux as root (here and in CI) that is the full containment: namespaces
and a user of the worker's own; one test runs the parent as `nobody` to cover the non-root path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import twingrad
from twingrad.check import sandbox
from twingrad.check.sandbox import Limits, Sandbox, SandboxError, SandboxOverflow, SandboxTimeout

PROJECT_PACKAGE = Path(twingrad.__file__).resolve().parent


def boxed(tmp_path: Path, source: str, limits: Limits | None = None, **copy_in: Path) -> Sandbox:
    """A started sandbox running ``source`` as the script hostile.py in its scratch directory."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "hostile.py"
    script.write_text(textwrap.dedent(source))
    box = Sandbox([sys.executable, "-I", "hostile.py"], limits=limits,
                  copy_in={"hostile.py": script, **copy_in})
    box.start()
    return box


def answer(box: Sandbox, timeout: float = 20.0) -> object:
    line = box.receive(timeout)
    assert line is not None, f"the worker ended without answering; stderr: {box.stderr_text()}"
    return json.loads(line)


def processes_with(token: str) -> list[int]:
    """Host pids whose command line carries ``token`` (zombies have none, so do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- who and where the worker is -------------------------------------------------------------------------


def test_the_environment_is_scrubbed_and_the_cwd_is_a_fresh_scratch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TWINGRAD_TEST_SECRET", "hunter2")
    with boxed(tmp_path, """
        import json, os, sys
        print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "files": sorted(os.listdir("."))}))
    """) as box:
        seen = answer(box)
        assert seen["cwd"] == str(box.scratch)
        assert seen["files"] == ["hostile.py"]
        assert seen["env"]["HOME"] == str(box.scratch)
        assert seen["env"]["LANG"] == "C.UTF-8"
        assert seen["env"]["PATH"] == "/usr/local/bin:/usr/bin:/bin"
        assert "TWINGRAD_TEST_SECRET" not in seen["env"]
        assert not any("hunter2" in value for value in seen["env"].values())
    assert not box.scratch.exists()


def test_as_root_the_worker_is_a_user_of_its_own_without_groups_or_new_privileges(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "this test covers the root path; CI runs as root"
    with boxed(tmp_path, """
        import json, os
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                          "no_new_privs": status["NoNewPrivs"].strip(), "pid": os.getpid()}))
    """) as box, boxed(tmp_path, "import os; print(os.getuid())") as other:
        seen = answer(box)
        other_uid = answer(other)
    assert seen["uid"] == seen["gid"] and seen["groups"] == []
    assert seen["uid"] in sandbox._WORKER_IDS and other_uid in sandbox._WORKER_IDS
    assert seen["uid"] != other_uid  # RLIMIT_NPROC counts per uid: each worker its own count
    assert seen["no_new_privs"] == "1"
    assert seen["pid"] == 1  # the init of a PID namespace of its own
    assert box.applied["user"].startswith(f"uid {seen['uid']}, this worker's alone")
    assert "64 processes of the worker's own uid" in box.applied["limits"]


def test_the_worker_sees_a_root_of_its_own_with_the_system_the_interpreter_and_scratch_only(
        tmp_path: Path) -> None:
    with boxed(tmp_path, """
        import json, os, sys
        print(json.dumps({"/": os.listdir("/"), "/etc": os.listdir("/etc"), "/dev": os.listdir("/dev"),
                          "prefix": sys.prefix, "base": sys.base_prefix,
                          "site": [p for p in sys.path if os.path.isdir(p) and os.listdir(p)
                                   and p.endswith(("site-packages", "dist-packages"))]}))
    """) as box:
        seen = answer(box)
    trees = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent.parent, box.scratch}
    assert set(seen["/"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc",
                              *(t.parts[1] for t in trees)}, seen["/"]
    assert not {"home", "opt", "srv", "mnt", "var", "run", "sys"} & set(seen["/"])
    assert set(seen["/etc"]) <= {"ld.so.cache", "localtime"}
    assert set(seen["/dev"]) == {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout",
                                 "stderr"}
    assert (seen["prefix"], seen["base"]) == (sys.prefix, sys.base_prefix)  # the venv, as outside
    assert seen["site"] == []  # every site-packages there is, empty


def test_copied_files_are_readable_and_the_scratch_is_writable_up_to_the_file_size_limit(
        tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    (engine / ".git").mkdir(parents=True)  # hidden entries and bytecode are not copied
    (engine / "__pycache__").mkdir()
    (engine / "micro.py").write_text("class Value: pass\n")
    with boxed(tmp_path, """
        import json, os, sys
        copied = sorted(os.listdir("engine"))
        sys.path.insert(0, "engine")
        import micro
        with open("notes.txt", "w") as f:
            f.write("ok")
        try:
            with open("big.bin", "wb") as f:
                f.write(b"x" * (2 << 20))
            big = "written"
        except OSError as exc:
            big = type(exc).__name__
        print(json.dumps({"value": micro.Value.__name__, "notes": open("notes.txt").read(), "big": big,
                          "engine": copied}))
    """, Limits(file_bytes=1 << 20), engine=engine) as box:
        assert answer(box) == {"value": "Value", "notes": "ok", "big": "OSError", "engine": ["micro.py"]}


def test_a_limit_the_platform_refuses_is_reported_not_claimed(tmp_path: Path) -> None:
    beyond = 1 << 40  # more open files than the kernel allows anyone (fs.nr_open)
    with boxed(tmp_path, "print(1)\n", Limits(open_files=beyond)) as box:
        assert answer(box) == 1
    assert box.applied["limits refused by this platform"] == f"{beyond} open files"
    assert "open files" not in box.applied["limits"]


@pytest.mark.parametrize("field", ["memory_bytes", "cpu_seconds", "processes", "line_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_limits_are_positive_ints(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field} must be a positive int"):
        Limits(**{field: value})


def test_copy_in_names_stay_inside_the_scratch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leaves the scratch"):
        Sandbox([sys.executable], copy_in={"../escape.py": tmp_path})


# -- files -------------------------------------------------------------------------------------------


@pytest.fixture
def victims(tmp_path: Path, monkeypatch) -> Iterator[dict[str, Path]]:
    """Places the engine must not touch, made world-writable so that only the sandbox protects them."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cwd.chmod(0o777)
    (cwd / "keep.txt").write_text("mine")
    (cwd / "keep.txt").chmod(0o666)
    monkeypatch.chdir(cwd)
    project_file = PROJECT_PACKAGE / "check" / f"_sandbox_victim_{uuid.uuid4().hex}.txt"
    project_file.write_text("mine")
    project_file.chmod(0o666)
    yield {"cwd": cwd, "project_file": project_file}
    project_file.unlink(missing_ok=True)


def test_the_engine_cannot_write_or_delete_outside_its_scratch(
        tmp_path: Path, victims: dict[str, Path]) -> None:
    cwd, project_file = victims["cwd"], victims["project_file"]
    pwned = f"pwned-{uuid.uuid4().hex}"
    targets = {"pwned": pwned, "cwd": str(cwd), "project": str(PROJECT_PACKAGE), "root": "/root",
               "tmp": "/tmp", "keep": str(cwd / "keep.txt"), "victim": str(project_file)}
    script = tmp_path / "targets.json"
    script.write_text(json.dumps(targets))
    with boxed(tmp_path, """
        import json, os
        targets = json.load(open("targets.json"))
        outcomes = {}
        def attempt(name, action):
            try:
                action()
                outcomes[name] = "done"
            except OSError as exc:
                outcomes[name] = type(exc).__name__
        for place in ("cwd", "project", "root", "tmp"):
            path = os.path.join(targets[place], targets["pwned"])
            attempt("write " + place, lambda: open(path, "w").write("x"))
        attempt("overwrite keep", lambda: open(targets["keep"], "w").write("pwned"))
        attempt("delete keep", lambda: os.remove(targets["keep"]))
        attempt("delete victim", lambda: os.remove(targets["victim"]))
        attempt("overwrite victim", lambda: open(targets["victim"], "a").write("pwned"))
        print(json.dumps(outcomes))
    """, **{"targets.json": script}) as box:
        outcomes = answer(box)
    assert "done" not in outcomes.values(), outcomes
    assert len(outcomes) == 8, outcomes
    for place in (cwd, PROJECT_PACKAGE, Path("/tmp")):
        assert not (place / pwned).exists()
    assert (cwd / "keep.txt").read_text() == "mine"
    assert project_file.read_text() == "mine"
    assert os.listdir(cwd) == ["keep.txt"]


# -- processes -------------------------------------------------------------------------------------------

DAEMONS = """
    import os, subprocess, sys, time
    token = sys.argv[1]
    sleeper = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "time.sleep(300)", token]
    if os.fork() == 0:  # a classic daemon: fork, setsid, fork again, parent exits
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, sleeper)
        os._exit(0)
    subprocess.Popen(sleeper, start_new_session=True)
    print('"started"', flush=True)
"""


def run_daemons(tmp_path: Path, tail: str) -> tuple[Sandbox, str]:
    token = f"twingrad-daemon-{uuid.uuid4().hex}"
    script = tmp_path / "hostile.py"
    script.write_text(textwrap.dedent(DAEMONS) + tail)
    box = Sandbox([sys.executable, "-I", "hostile.py", token], copy_in={"hostile.py": script})
    box.start()
    assert answer(box) == "started"
    assert wait_for(lambda: len(processes_with(token)) >= 2), "the daemons did not start"
    return box, token


def test_close_kills_every_process_the_worker_started_even_setsid_daemons(tmp_path: Path) -> None:
    box, token = run_daemons(tmp_path, "time.sleep(300)\n")
    box.close()
    assert processes_with(token) == []
    assert not box.scratch.exists()


def test_when_the_worker_exits_its_daemons_die_with_it(tmp_path: Path) -> None:
    box, token = run_daemons(tmp_path, "sys.stdin.readline()\nos._exit(0)\n")
    with box:
        box.send(b"exit now")
        assert box.receive(10.0) is None
        assert wait_for(lambda: processes_with(token) == [], 5.0)


# -- network, memory, CPU ------------------------------------------------------------------------------


@pytest.fixture
def host_service() -> Iterator[socket.socket]:
    """A unix socket anyone may connect to, in /tmp, where services keep theirs (X11, ssh agents)."""
    directory = Path(tempfile.mkdtemp(prefix="twingrad-sandbox-test-"))
    try:
        directory.chmod(0o777)
        with socket.socket(socket.AF_UNIX) as service:
            service.bind(str(directory / "bus"))
            (directory / "bus").chmod(0o777)
            service.listen()
            service.settimeout(0.1)
            yield service
    finally:
        shutil.rmtree(directory)


def test_there_is_no_network_and_no_socket_of_a_host_service(
        tmp_path: Path, host_service: socket.socket) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port, bus = listener.getsockname()[1], host_service.getsockname()
        with boxed(tmp_path, f"""
            import json, socket
            outcomes = []
            addresses = [(socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_UNIX, "{bus}")]
            for family, address in addresses:
                try:
                    socket.socket(family).connect(address)
                    outcomes.append("connected")
                except OSError as exc:
                    outcomes.append(type(exc).__name__)
            print(json.dumps(outcomes))
        """) as box:
            assert "connected" not in answer(box)
        with pytest.raises(TimeoutError):
            listener.accept()
    with pytest.raises(TimeoutError):
        host_service.accept()
    assert box.applied["network"].startswith("none")


FILL_THE_PROCESS_LIMIT = """
    import os, time
    children = 0
    while True:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
    print(children, flush=True)
    time.sleep(600)
"""

FORK_ONE = """
    import os
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def test_a_worker_filling_its_process_limit_stops_no_other_from_starting_or_forking(tmp_path: Path) -> None:
    # RLIMIT_NPROC counts the processes of a uid: shared by all workers, one hog would leave the
    # next worker no process to start (or to fork). Each worker has a uid of its own.
    with boxed(tmp_path / "hog", FILL_THE_PROCESS_LIMIT, Limits(processes=16)) as hog:
        assert answer(hog) == 15  # the worker and its 15 children: the limit
        with boxed(tmp_path / "a", FORK_ONE, Limits(processes=16)) as a, \
                boxed(tmp_path / "b", FORK_ONE, Limits(processes=16)) as b:
            assert (answer(a), answer(b)) == (7, 7)


def test_unbounded_allocation_fails_in_the_worker_not_in_the_parent(tmp_path: Path) -> None:
    with boxed(tmp_path, """
        import json
        hoard = []
        try:
            while True:
                hoard.append(bytearray(16 << 20))
        except MemoryError:
            size = len(hoard) * 16
            hoard.clear()
            print(json.dumps(["MemoryError", size]))
    """, Limits(memory_bytes=256 << 20)) as box:
        outcome, megabytes = answer(box)
    assert outcome == "MemoryError"
    assert megabytes < 256


def test_a_spinning_worker_is_stopped_by_the_cpu_limit(tmp_path: Path) -> None:
    with boxed(tmp_path, "while True: pass\n", Limits(cpu_seconds=1)) as box:
        assert box.receive(timeout=60.0) is None  # 1 s of CPU; wall time depends on the machine's load
        # SIGXCPU at the soft limit; as a PID namespace's init the worker may only see the
        # SIGKILL of the hard limit, a second later.
        assert box.wait(5.0) in (-signal.SIGXCPU, -signal.SIGKILL)


# -- the pipes ---------------------------------------------------------------------------------------


def test_a_stderr_flood_is_counted_but_not_kept(tmp_path: Path) -> None:
    limit = 64 << 10
    with boxed(tmp_path, """
        import sys
        sys.stderr.write("BEGIN ")
        for _ in range(200):
            sys.stderr.write("x" * (1 << 18))
        sys.stderr.write(" END")
        sys.stderr.flush()
        print('"done"', flush=True)
    """, Limits(output_bytes=limit)) as box:
        assert answer(box, 60.0) == "done"
        written = len("BEGIN ") + (200 << 18) + len(" END")
        assert wait_for(lambda: box.stderr_bytes == written)  # the drain may lag the answer
        assert box.output_overflowed
        kept = box.stderr_text()
        assert kept.startswith("BEGIN ") and kept.endswith(" END")
        assert "bytes not kept" in kept
        assert len(kept.encode()) <= limit + 100  # the note in the middle is all that is added


def test_a_line_without_end_is_an_overflow_not_a_hang(tmp_path: Path) -> None:
    with boxed(tmp_path, """
        import sys
        while True:
            sys.stdout.write("x" * 65536)
    """, Limits(line_bytes=1 << 20)) as box, pytest.raises(SandboxOverflow, match="without a newline"):
        box.receive(timeout=20.0)


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, "1"])
def test_timeouts_must_be_finite_and_non_negative(tmp_path: Path, timeout: object) -> None:
    with boxed(tmp_path, "import time; time.sleep(30)\n") as box:
        with pytest.raises(ValueError, match="finite number of seconds"):
            box.receive(timeout)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="finite number of seconds"):
            box.send(b"{}", timeout)  # type: ignore[arg-type]


def test_a_silent_worker_times_out_and_one_that_never_reads_cannot_block_the_parent(tmp_path: Path) -> None:
    with boxed(tmp_path, "import time; time.sleep(30)\n") as box:
        began = time.monotonic()
        with pytest.raises(SandboxTimeout, match=r"within 0\.3 s"):
            box.receive(0.3)
        with pytest.raises(SandboxError, match=r"did not read its input within 0\.3 s"):
            box.send(b"x" * (4 << 20), timeout=0.3)
        assert time.monotonic() - began < 3


def test_lines_go_both_ways_and_the_exit_status_comes_through(tmp_path: Path) -> None:
    with boxed(tmp_path, """
        import sys
        for _ in range(3):
            print(repr(sys.stdin.readline()), flush=True)
        sys.exit(7)
    """) as box:
        box.send(b"forward")
        box.send(b"backward\n")  # a final newline is the same line
        assert [box.receive(10.0), box.receive(10.0)] == [b"'forward\\n'", b"'backward\\n'"]
        with pytest.raises(ValueError, match="newline before its end"):
            box.send(b"two\nlines")
        assert box.wait(0.1) is None
        box.send(b"")
        assert box.receive(10.0) == b"'\\n'"
        assert box.receive(10.0) is None
        assert box.wait(10.0) == 7


# -- other platforms and privileges -------------------------------------------------------------------


def test_without_namespaces_the_report_says_what_is_left(tmp_path: Path, monkeypatch) -> None:
    fallback = sandbox._Containment(namespaces=False, user_namespace=False, own_user=False)
    monkeypatch.setattr(sandbox, "_ladder", lambda: [fallback])
    monkeypatch.setattr(sandbox, "_unavailable", {})
    monkeypatch.setattr(sandbox, "_established", set())
    monkeypatch.setenv("TWINGRAD_TEST_SECRET", "hunter2")
    with boxed(tmp_path, """
        import json, os, resource
        print(json.dumps([os.getcwd(), "TWINGRAD_TEST_SECRET" in os.environ,
                          resource.getrlimit(resource.RLIMIT_AS)[0]]))
    """, Limits(memory_bytes=1 << 30)) as box:
        assert answer(box) == [str(box.scratch), False, 1 << 30]
    assert box.applied["processes"].startswith("process group")
    assert box.applied["network"] == "the host's"
    assert box.applied["filesystem"] == "whatever the user may write"
    assert "unavailable" not in box.applied


def test_a_containment_that_fails_here_is_reported_and_the_next_one_used(tmp_path: Path, monkeypatch) -> None:
    # Without a mount namespace, another user cannot run a program below a directory only root may enter.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    nobody = sandbox._Containment(namespaces=False, user_namespace=False, own_user=True)
    caller = sandbox._Containment(namespaces=False, user_namespace=False, own_user=False)
    monkeypatch.setattr(sandbox, "_ladder", lambda: [nobody, caller])
    monkeypatch.setattr(sandbox, "_unavailable", {})
    monkeypatch.setattr(sandbox, "_established", set())
    script = tmp_path / "uid.py"
    script.write_text("import os; print(os.getuid())\n")
    with Sandbox([str(private / "python"), "-I", "uid.py"], copy_in={"uid.py": script}) as box:
        box.start()
        assert answer(box) == 0
    refusal = sandbox._unavailable[nobody]
    assert re.fullmatch(f"{re.escape(str(private / 'python'))} is not executable by uid \\d+", refusal)
    assert box.applied["user"] == "the caller's"
    assert box.applied["unavailable"] == f"no namespaces with a user of its own: {refusal}"
    assert list(sandbox._unavailable) == [nobody]


def test_once_a_containment_has_worked_a_failure_is_an_error_not_a_weaker_sandbox(
        tmp_path: Path, monkeypatch) -> None:
    nobody = sandbox._Containment(namespaces=False, user_namespace=False, own_user=True)
    caller = sandbox._Containment(namespaces=False, user_namespace=False, own_user=False)
    monkeypatch.setattr(sandbox, "_ladder", lambda: [nobody, caller])
    monkeypatch.setattr(sandbox, "_unavailable", {})
    monkeypatch.setattr(sandbox, "_established", set())
    with Sandbox(["/bin/echo", "hello"]) as box:  # a program anyone may run: any user works
        box.start()
        assert box.receive(10.0) == b"hello"
    assert box.applied["user"].startswith("uid ")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "echo").symlink_to("/bin/echo")
    with Sandbox([str(private / "echo"), "hello"]) as box, pytest.raises(SandboxError, match="worked before"):
        box.start()
    assert sandbox._unavailable == {}


NOT_ROOT_PARENT = """
import json, os, sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from twingrad.check.sandbox import Sandbox
hostile = Path(sys.argv[1])
with Sandbox([sys.executable, "-I", "hostile.py", os.getcwd()], copy_in={"hostile.py": hostile}) as box:
    box.start()
    worker = json.loads(box.receive(20))
print(json.dumps({"parent_uid": os.getuid(), "applied": box.applied, "worker": worker,
                  "scratch_removed": not box.scratch.exists()}))
"""

UNDO_THE_MOUNTS = """
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND, MNT_DETACH = 0x20, 0x1000, 2
outcomes = {
    "remount / writable": libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None),
    "remount the parent's cwd writable": libc.mount(None, sys.argv[1].encode(), None, MS_REMOUNT | MS_BIND,
                                                    None),
    "uncover /root": libc.umount2(b"/root", MNT_DETACH),
}
for name, path in (("write into the parent's cwd", sys.argv[1]), ("write into /tmp", "/tmp")):
    try:
        open(os.path.join(path, "pwned"), "w").close()
        outcomes[name] = 0
    except OSError:
        outcomes[name] = -1
# A folder the parent, not root here, cannot enter to clean up without taking the lock off first.
os.makedirs("locked/inner")
open("locked/inner/file", "w").close()
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
print(json.dumps(outcomes))
"""


def _reachable_by_anyone(paths: list[Path]) -> str:
    """Shell commands that, in a private mount namespace, make ``paths`` reachable by any user:
    each directory on the way that others may not enter (/root, a 0700 checkout folder) is
    covered by an empty tmpfs with only the needed entries moved back, outermost first."""
    lines = ["mount -t tmpfs tmpfs /mnt"]  # a place for the moves that leaves the real /mnt alone
    done: set[Path] = set()
    for depth in range(1, max(len(p.parts) for p in paths)):
        for blocked in sorted({p.parents[len(p.parts) - 1 - depth] for p in paths if len(p.parts) > depth}):
            if blocked in done or blocked.stat().st_mode & 0o001:
                continue
            done.add(blocked)
            kept = sorted({p.parts[depth] for p in paths if p.parents[len(p.parts) - 1 - depth] == blocked})
            spare = [f"/mnt/{len(done)}-{k}" for k in range(len(kept))]
            lines += [f"mkdir -p {m} && mount --bind {blocked / name} {m}" for m, name in zip(spare, kept)]
            lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {blocked}")
            lines += [f"mkdir -p {blocked / n} && mount --move {m} {blocked / n}"
                      for m, n in zip(spare, kept)]
    return " && ".join(lines)


def test_a_parent_that_is_not_root_gets_a_user_namespace_whose_mounts_the_engine_cannot_undo() -> None:
    # The parent runs as nobody, as on a laptop. It must be able to run this interpreter (under
    # /root, 0700, here) and read the project (wherever it was cloned): a private mount
    # namespace shows it those and hides the rest of every folder that others may not enter.
    shared = Path(tempfile.mkdtemp(prefix="twingrad-sandbox-test-"))
    try:
        shared.chmod(0o777)  # the parent's own cwd: writable by it, so only the sandbox protects it
        (shared / "hostile.py").write_text(UNDO_THE_MOUNTS)
        (shared / "hostile.py").chmod(0o644)
        pyenv = Path(sys.executable).resolve().parents[3]
        needed = [pyenv, Path(sys.executable).absolute().parent.parent, PROJECT_PACKAGE.parent, shared]
        setup = f"{_reachable_by_anyone(needed)} && exec \"$@\""
        command = [shutil.which("unshare"), "--mount", "--propagation", "private", "sh", "-c", setup, "sh",
                   shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
                   "env", "-i", sys.executable, "-I", "-c", NOT_ROOT_PARENT,
                   str(shared / "hostile.py"), str(PROJECT_PACKAGE.parent)]
        done = subprocess.run(command, cwd=shared, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert os.listdir(shared) == ["hostile.py"]
    finally:
        shutil.rmtree(shared)
    assert report["parent_uid"] == 65534
    assert report["applied"]["user"].startswith("the caller's, without capabilities")
    assert report["applied"]["processes"].startswith("PID namespace")
    assert report["worker"] == dict.fromkeys(report["worker"], -1)
    assert report["scratch_removed"]
    assert len(report["worker"]) == 5
