"""The ``twingrad`` command: ``demo``, ``check`` and ``bench``.

Each subcommand lives in its own module and is imported only when asked for, so
``twingrad --help`` stays instant and torch loads only where it is needed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .extras import MissingExtraError, require


class _OneLineErrors(argparse.ArgumentParser):
    """A wrong argument is one line on stderr (not the whole usage) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="twingrad",
        description="A pure-Python scalar autograd engine with a PyTorch twin for every graph.",
    )
    parser.add_argument("--version", action="version", version=f"twingrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineErrors)

    demo = commands.add_parser(
        "demo", help="the seed notebook's graph: backward, torch parity, a nudge, an SVG"
    )
    demo.add_argument(
        "--out", default="twingrad-demo.svg", help="where to write the drawing (.svg, .png or .pdf)"
    )
    demo.add_argument("--step", type=float, default=0.01, help="the nudge step (default 0.01)")

    check = commands.add_parser(
        "check",
        help="check your own micrograd-style Value class against torch, case by case",
        description="Build each case of a catalogue with a micrograd-style Value class and with "
        "torch, compare output, gradients and a nudge, and name the first node that disagrees.",
        epilog="exit status: 0 every supported case agrees with torch; 1 a case failed, errored or "
        "timed out; 2 the engine cannot be loaded or an argument is wrong; with several targets, the "
        "worst of them. In GitHub Actions (GITHUB_ACTIONS=true) it also appends a summary to "
        "$GITHUB_STEP_SUMMARY and annotates the engine's line of each failing op.",
    )
    check.add_argument(
        "target",
        nargs="*",
        metavar="TARGET",
        help="package.module:Name or path/to/file.py:Name (default: twingrad's own Value); several "
        "(say submissions/*/engine.py:Value) are checked each in its own worker, then each verdict shown",
    )
    check.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                       help="with several targets, check N at a time (default: 1)")
    check.add_argument("--json", metavar="PATH",
                       help="also write the verdicts as JSON to PATH (several targets: one document)")
    check.add_argument("--junit-xml", metavar="PATH",
                       help="also write JUnit XML to PATH: a test suite per target, a test case per case")
    check.add_argument("--html", metavar="PATH",
                       help="also write one self-contained HTML page: every target, the failing cases drawn")
    check.add_argument("--svg", metavar="DIR", help="draw failing cases (culprit in red) into DIR")
    check.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per case, and for loading the engine (default: 10)"
    )
    check.add_argument(
        "--target-timeout", type=float, metavar="SECONDS",
        help="for each target's whole check; after it, or after 4 timed-out cases, its remaining cases "
        "are not run and count as timeouts (default: 60)",
    )
    check.add_argument("--only", metavar="CASES", help="comma-separated case names or globs, e.g. 'unary_*'")
    check.add_argument(
        "--require",
        metavar="OPS_OR_CASES",
        help="ops or cases that must be supported, e.g. 'tanh,exp': unsupported counts as a failure",
    )
    check.add_argument(
        "--python",
        metavar="PATH",
        help="run the engine under this Python (3.8 or newer; default: the one running twingrad)",
    )
    check.add_argument(
        "--exec",
        dest="exec_command",
        metavar="COMMAND",
        help="run COMMAND as the worker: an engine in another language (docs/protocol.md)",
    )
    check.add_argument(
        "--protocol-only",
        action="store_true",
        help="with --exec: only check that the worker speaks the protocol correctly",
    )
    check.add_argument(
        "--names",
        metavar="ROLE=NAME,...",
        help="the engine's own names where they cannot be found alone, e.g. "
        "'data=val,backward=backprop' (roles: data grad inputs op label backward requires_grad)",
    )
    check.add_argument("--rtol", type=float, metavar="R", help="relative tolerance (default 1e-10)")
    check.add_argument("--atol", type=float, metavar="A", help="absolute tolerance (default 1e-300)")
    check.add_argument(
        "--float32",
        action="store_true",
        help="tolerances for an engine that computes in float32 on purpose (rtol 1e-4, atol 1e-7)",
    )
    check.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="draw the cases' inputs from seed N, to replay a run (its report names its seed); "
        "default: a fresh seed every run",
    )
    check.add_argument(
        "--accept",
        metavar="DESIGN",
        help="a design that is no bug, as a note instead of a failure: 'offset' (log(x + 1e-6) and "
        "the like, a small round number added to an op's input)",
    )
    check.add_argument("--list", action="store_true", help="list the cases and exit")
    check.add_argument("-v", "--verbose", action="store_true",
                       help="with one target: every case on its own line, passes and unsupported too")

    bench = commands.add_parser(
        "bench", help="ratio tables (and a chart) from the benchmark suite's results (make bench)"
    )
    bench.add_argument(
        "results",
        nargs="*",
        help="pytest-benchmark JSON files, one per GC policy (default: those make bench wrote)",
    )
    bench.add_argument("--chart", metavar="PNG", help="also draw the ratios into this PNG file")
    bench.add_argument("--summary", action="store_true",
                       help="only the ratios that matter: the moons step, parity.compare against torch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except MissingExtraError as error:  # one line and exit status 2, as for any unusable input
        print(error, file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(out=args.out, step=args.step)
    if args.command == "check":
        # Listing the cases and checking an adapter's messages compute nothing.
        if not (args.list or args.protocol_only):
            require("check", "twingrad check")
        from .check.command import run_check

        return run_check(args)
    if args.command == "bench":
        if args.chart:
            require("bench", "twingrad bench --chart")
        from .bench import run_bench

        return run_bench(args.results, chart_path=args.chart, only_summary=args.summary)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
