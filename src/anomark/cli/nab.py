"""``anomark nab list``: the NAB series and their labelled windows."""

from __future__ import annotations

import argparse
from typing import Any

from anomark.cli._common import EXIT_OK, Formatter, missing_action, say

__all__ = ["register", "run_list"]

EXAMPLES = "examples:\n  anomark nab list\n  anomark nab list --windows --labelled"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``nab`` parser (and its ``list`` action) to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "nab", parents=[common], formatter_class=Formatter,
        help="the Numenta Anomaly Benchmark corpus",
        description="Work with the NAB corpus: NYC taxi ships with anomark; the other series "
                    "are read from a local copy (ANOMARK_NAB_DIR) or downloaded and cached on "
                    "first use.",
        epilog=EXAMPLES,
    )
    actions = p.add_subparsers(dest="nab_command", metavar="ACTION")
    q = actions.add_parser(
        "list", parents=[common], formatter_class=Formatter,
        help="list the NAB series names",
        description="List the NAB series (use them as 'anomark detect nab:<name>').",
        epilog=EXAMPLES,
    )
    q.add_argument("--windows", action="store_true", help="also show each series' window count")
    q.add_argument("--labelled", action="store_true",
                   help="only series with at least one labelled window")
    q.set_defaults(func=run_list)
    p.set_defaults(func=missing_action(p))


def run_list(args: argparse.Namespace) -> int:
    """Run ``anomark nab list``."""
    from anomark.datasets import nab

    names = nab.names()
    if args.labelled or args.windows:
        counts = {name: len(found) for name, found in nab.all_windows().items()}
    if args.labelled:
        names = [n for n in names if counts.get(n)]
    width = max((len(n) for n in names), default=0)
    for name in names:
        if args.windows:
            count = counts.get(name, 0)
            say(f"{name:<{width}}  {count} window{'s' if count != 1 else ''}")
        else:
            say(name)
    return EXIT_OK
