"""The ``anomark`` command line (also ``python -m anomark``).

One module per command, each with ``register(subparsers, common)`` (adds its parser and sets
``func``, the function that runs it) and the function itself:

``anomark detect SOURCE...`` (:mod:`anomark.cli.detect`)
    Load a CSV file / glob / folder / ``s3://`` prefix / NAB series (``nab:<name>``) or several
    sensors (``--sensor NAME=GLOB``), fit a detector, score, threshold, print the flagged events,
    write the anomalies CSV and optionally a plot; print event precision/recall/F1 when labelled
    windows are known (NAB series or ``--labels``).
``anomark stream CSV|-`` (:mod:`anomark.cli.stream`)
    Score CSV rows as they arrive (a file or stdin, ``tail -f`` works) with an online Random
    Cut Forest, one line per row or per alert, checkpointing the detector (``--state``) so
    that a restart resumes without rescoring.
``anomark evaluate SCORES.csv --labels ...`` (:mod:`anomark.cli.evaluate`)
    Score a saved detection (``anomark detect --scores FILE``) against labelled windows with
    every metric: VUS-PR/ROC, range PR/ROC AUC, range and event precision/recall/F1, NAB.
``anomark detectors`` (:mod:`anomark.cli.detectors`)
    List the registered detectors.
``anomark nab list`` (:mod:`anomark.cli.nab`)
    List the NAB series and their number of labelled windows.
``anomark benchmark nab`` (:mod:`anomark.cli.benchmark`)
    Run detectors over the NAB corpus and score them with NAB's rules.
``anomark sagemaker cleanup --prefix P`` (:mod:`anomark.cli.sagemaker`)
    Delete SageMaker resources the library created under a name prefix.

Shared pieces: :mod:`anomark.cli._common` (exit codes, output, progress, options every
command takes), :mod:`anomark.cli._sources` (reading the data a command names) and
:mod:`anomark.cli._report` (tables, CSV, figure). A new command is a module with
``register`` and its run function, named in :data:`COMMANDS`.

Errors raised on purpose by anomark (and missing/unreadable files) are printed as one line,
``error: <message>``, on stderr with exit status 2; ``--debug`` shows the traceback instead.
Command modules import only the standard library at import time, so ``anomark --help`` is
fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from anomark._version import __version__
from anomark.cli._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    Formatter,
    add_global_options,
    common_options,
    error_message,
    filter_native_logs,
)
from anomark.errors import AnomarkError

__all__ = ["COMMANDS", "build_parser", "main"]

#: The command modules (``anomark.cli.<name>``), in the order ``anomark --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "detect", "stream", "evaluate", "detectors", "nab", "benchmark", "sagemaker",
)

MAIN_EPILOG = """\
examples:
  anomark detect nab:realKnownCause/nyc_taxi.csv --plot taxi.png
  anomark detect data/2024-*.csv --threshold quantile:0.999 --output anomalies.csv
  anomark detect --sensor adcp='raw/adcp_*.csv' --sensor ek60='raw/ek60_*.csv' \\
      --resample 1min --fill interpolate --plot sensors.png
  tail -n +1 -f live.csv | anomark stream - --state live-state/ --alerts-only
  anomark evaluate taxi_scores.csv --labels nab:realKnownCause/nyc_taxi.csv
  anomark detectors
  anomark nab list
  anomark benchmark nab --detectors rcf,iforest --jobs 2
  anomark sagemaker cleanup --prefix anomark-demo --region eu-west-1

Run 'anomark COMMAND --help' for the options of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``anomark`` argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="anomark",
        description="Anomaly detection for time series and multi-sensor data.",
        epilog=MAIN_EPILOG,
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"anomark {__version__}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()
    for name in COMMANDS:
        importlib.import_module(f"anomark.cli.{name}").register(sub, common)
    return parser


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:
    """Warnings as one ``warning: ...`` line on stderr instead of a source excerpt."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``anomark`` command; returns the exit status (0 ok, 2 error, 130 interrupted).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    if getattr(args, "func", None) is None:
        parser.print_usage(sys.stderr)
        print("anomark: error: choose a command (see 'anomark --help')", file=sys.stderr)
        return EXIT_ERROR
    try:
        with warnings.catch_warnings(), filter_native_logs(not args.verbose):
            if args.quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show_warning
            return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (AnomarkError, OSError) as exc:
        if args.debug:
            raise
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
