"""``--exec COMMAND`` as docs/protocol.md ("The worker's world") describes it to an adapter's author:
no shell, words split as a shell splits them, a program's path read from the caller's folder,
an environment of five variables, and ``env VAR=value`` to give the worker one more.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from twingrad.check import check_engine
from twingrad.check.conformance import conformance
from twingrad.check.target import TargetError
from twingrad.check.worker import Worker, exec_command

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "javascript"
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"

# A worker that only says hello, and says in it what it sees: the names of its environment
# variables (as `name`), SCALAR_BUG's value, and whether HOME is the folder it runs in.
ENVIRONMENT_WORKER = """
const readline = require('readline');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line);
  const seen = `${process.env.SCALAR_BUG || ''}|${process.env.HOME === process.cwd()}`;
  const worker = { name: Object.keys(process.env).sort().join(','), language: 'javascript', version: seen };
  process.stdout.write(JSON.stringify({ id: request.id, nonce: request.nonce, type: 'hello', protocol: 1,
                                        worker }) + '\\n');
});
"""


@pytest.fixture
def compiled_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``./c/worker`` below the current folder: an executable program (the example adapter behind
    a ``#!`` line, as a compiled C worker would be a file of its own), with its engine beside it."""
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(EXAMPLE / "engine.js", folder / "engine.js")
    program = folder / "worker"
    program.write_text("#!/usr/bin/env node\n" + (EXAMPLE / "adapter.js").read_text(encoding="utf-8"))
    program.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    return program


def test_a_program_given_by_its_path_from_the_callers_folder_runs(compiled_worker: Path) -> None:
    assert conformance("./c/worker", 30.0).problems == []
    run = check_engine(command="c/worker", only=["seed_graph", "unary_tanh"])
    assert run.ok and run.summary["pass"] == 2, run


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("./c/nothing", "--exec: no such program: ./c/nothing (from {folder})"),
        ("./c", "--exec: not a program: ./c (from {folder}) is a folder"),
        ("./c/engine.js", "--exec: ./c/engine.js is not executable (chmod +x ./c/engine.js)"),
        ("no-such-program-here c/engine.js", "--exec: no program no-such-program-here on PATH"),
    ],
)
def test_a_program_that_cannot_start_is_named_as_the_caller_wrote_it(
    compiled_worker: Path, command: str, words: str
) -> None:
    expected = words.format(folder=compiled_worker.parent.parent)
    with pytest.raises(TargetError) as raised:
        check_engine(command=command)
    assert str(raised.value) == expected
    with pytest.raises(TargetError, match=re.escape(expected)):
        conformance(command, 10.0)


def test_a_program_whose_interpreter_is_missing_says_so(compiled_worker: Path) -> None:
    compiled_worker.write_text("#!/nowhere/node\n")
    with pytest.raises(TargetError, match="starts with #!/nowhere/node, which is no program on this machine"):
        exec_command("./c/worker")


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("SCALAR_BUG=tanh node adapter.js", "write `env SCALAR_BUG=tanh node adapter.js` to set a variable"),
        ("node adapter.js | tee log", "no shell: '|' would reach the program as a word"),
        ("node adapter.js 2>log", "no shell: '2>log' would reach the program as a word"),
        ("node adapter.js >log", "no shell: '>log' would reach the program as a word"),
        ("node adapter.js && echo", "no shell: '&&' would reach the program as a word"),
        ("node $ADAPTER", "no shell: '$ADAPTER' would reach the program as a word"),
        ("node 'adapter.js", "--exec \"node 'adapter.js\": no closing quotation"),
    ],
)
def test_what_a_shell_would_do_is_refused_with_what_to_write(command: str, words: str) -> None:
    with pytest.raises(TargetError, match=re.escape(words)):
        exec_command(command)


def test_words_are_split_as_a_shell_splits_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my adapter.js").write_text("")
    command = exec_command("""node 'my adapter.js' --label "a b" plain\\ word""")
    assert command.argv == ["node", "exec/0/my adapter.js", "--label", "a b", "plain word"]
    assert command.originals == {"exec/0": str(tmp_path)}


def _seen(command: str) -> tuple[set[str], str]:
    run = exec_command(command)
    with Worker(run.argv, copy_in=run.copy_in) as worker:
        hello = worker.start(30.0)
    return set(hello.name.split(",")), hello.version


def documented_environment() -> set[str]:
    """The variables docs/protocol.md says the worker gets: "gets exactly `NAME=...`, ...; nothing"."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    sentence = text[text.index("The worker gets exactly") :].split("; nothing of the caller's", 1)[0]
    return set(re.findall(r"`([A-Z_]+)=", sentence))


def test_the_worker_gets_the_documented_environment_and_env_adds_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "worker.js").write_text(ENVIRONMENT_WORKER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCALAR_BUG", "the caller's")  # never reaches the worker
    documented = documented_environment()
    assert {"PATH", "HOME", "TMPDIR", "LANG"} <= documented
    assert _seen("node worker.js") == (documented, "|true")
    assert _seen("env SCALAR_BUG=tanh node worker.js") == (documented | {"SCALAR_BUG"}, "tanh|true")
