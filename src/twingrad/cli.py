"""The ``twingrad`` command: ``demo``, ``check`` and ``bench``.

Each subcommand lives in its own module and is imported only when asked for, so
``twingrad --help`` stays instant and torch loads only where it is needed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twingrad",
        description="A pure-Python scalar autograd engine with a PyTorch twin for every graph.",
    )
    parser.add_argument("--version", action="version", version=f"twingrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="the seed notebook's graph: backward, torch parity, a nudge, an SVG"
    )
    demo.add_argument(
        "--out", default="twingrad-demo.svg", help="where to write the drawing (.svg, .png or .pdf)"
    )
    demo.add_argument("--step", type=float, default=0.01, help="the nudge step (default 0.01)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(out=args.out, step=args.step)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
