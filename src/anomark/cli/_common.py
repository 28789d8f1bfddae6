"""What every ``anomark`` command shares: exit codes, output, progress, errors, target checks.

This module imports only the standard library (and, inside functions, tqdm) so that building
the parser and ``anomark --help`` stay fast.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from anomark.errors import AnomarkError, ConfigurationError, PersistenceError

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "Formatter",
    "Steps",
    "add_clobber_option",
    "add_input_options",
    "check_targets",
    "common_options",
    "error_message",
    "filter_native_logs",
    "iter_progress",
    "missing_action",
    "progress_enabled",
    "reader_options",
    "say",
    "warn",
]

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

#: Choices of ``--duplicates`` ("error" is the Dataset's ``duplicates="raise"``).
DUPLICATE_CHOICES = ("error", "mean", "first", "last")


# ---------------------------------------------------------------------- output
def say(*parts: Any, file: TextIO | None = None) -> None:
    """Print to stdout (the command's result; nothing else goes there)."""
    print(*parts, file=file or sys.stdout)


def warn(message: str, quiet: bool) -> None:
    """One ``warning: ...`` line on stderr unless ``--quiet``."""
    if not quiet:
        print(f"warning: {message}", file=sys.stderr)


def error_message(exc: BaseException) -> str:
    """The one-line text of an error for ``error: <message>``."""
    if isinstance(exc, OSError) and not isinstance(exc, AnomarkError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    return " ".join(text.split()) if "\n" not in text.strip() else text.strip()


# ---------------------------------------------------------------------- progress
def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal, and never with ``--quiet``."""
    if args.quiet:
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class Steps:
    """A progress bar over the steps of a command (load, fit, score, write) on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc:<28} {bar} {n_fmt}/{total_fmt} [{elapsed}]",
            )

    def start(self, description: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(description)
            self._bar.refresh()

    def done(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the bar while something else writes to stderr (Keras' epoch lines)."""
        if self._bar is None:
            yield
            return
        self._bar.clear()
        try:
            yield
        finally:
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def iter_progress(items: Sequence[Any], description: str, enabled: bool) -> Any:
    """``items``, wrapped in a tqdm bar on stderr when enabled and there are several."""
    if not enabled or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, file=sys.stderr, leave=False, unit="file")


# ---------------------------------------------------------------------- native log lines
#: Lines that native libraries (TensorFlow's C++ runtime through absl/glog) write straight to
#: file descriptor 2: ``I0000 00:00:1796069963.280173   24758 port.cc:153] ...``, absl's
#: "before InitializeLog" banner and TensorFlow's CPU-instructions continuation line.
_NATIVE_LOG = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.\-/]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def _is_real_fd2(stream: Any) -> bool:
    try:
        return bool(stream.fileno() == 2)
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return False


@contextmanager
def filter_native_logs(enabled: bool) -> Iterator[None]:
    """Drop the log lines native libraries write to file descriptor 2 (TensorFlow's C++
    start-up messages, CUDA probing on CPU machines) while the block runs.

    TensorFlow writes them before its own ``TF_CPP_MIN_LOG_LEVEL`` setting takes effect, so
    the descriptor itself is redirected to a temporary file; Python's ``sys.stderr`` keeps
    writing to the terminal (progress bars and warnings stay live). Lines that are not native
    log lines are copied back to stderr at the end, so real errors are never lost.
    """
    if not enabled:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # pragma: no cover - no usable descriptor 2
        yield
        return
    python_stderr = sys.stderr
    swapped = _is_real_fd2(python_stderr)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        if swapped:  # Python-level writes go on to the real stderr, not to the file
            sys.stderr = open(  # noqa: SIM115 - closed below
                os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                errors="backslashreplace",
            )
        try:
            yield
        finally:
            if swapped:
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line for line in captured.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not _NATIVE_LOG.match(line)
            ]
            for line in kept:
                print(line, file=sys.stderr)


# ---------------------------------------------------------------------- parser pieces
class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs; wider option column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def common_options() -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser (``-q``, ``-v``, ``--debug``)."""
    common = argparse.ArgumentParser(add_help=False)
    add_global_options(common, default=argparse.SUPPRESS)
    return common


def add_global_options(parser: argparse.ArgumentParser, default: Any = False) -> None:
    """``-q/--quiet``, ``-v/--verbose`` and ``--debug`` (on the main parser and each command)."""
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="no progress bars or warnings on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="also show the log lines of native libraries (TensorFlow's C++ "
                             "start-up messages), hidden by default")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback on errors")


def add_input_options(group: argparse._ArgumentGroup) -> None:
    """How CSV input is read: ``--time-column``, ``--time-format``, ``--dayfirst``,
    ``--duplicates`` (see :func:`reader_options`)."""
    group.add_argument("--time-column", metavar="COL",
                       help="name of the timestamp column (default: detected)")
    group.add_argument("--time-format", metavar="FMT",
                       help="strftime format of the timestamps, e.g. '%%d/%%m/%%Y %%H:%%M' "
                            "(default: inferred, one format per column)")
    group.add_argument("--dayfirst", action="store_true",
                       help="read ambiguous dates such as 01/02/2024 day first (1 February)")
    group.add_argument("--duplicates", choices=DUPLICATE_CHOICES, metavar="{error,mean,first,last}",
                       help="rows sharing a timestamp: refuse them, average them, or keep the "
                            "first / last (default: error; nab: series keep the first)")


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The readers' keyword arguments from :func:`add_input_options`' options."""
    return {
        "time_column": args.time_column,
        "time_format": args.time_format,
        "dayfirst": True if args.dayfirst else None,
    }


def add_clobber_option(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """``--no-clobber``: refuse to replace existing outputs (replacing them is the default)."""
    group.add_argument("--no-clobber", action="store_true",
                       help="refuse to replace existing output files or folders (default: "
                            "replace them; each is written atomically)")


def check_targets(
    files: Sequence[Path | None], no_clobber: bool, folders: Sequence[Path | None] = ()
) -> None:
    """Refuse output files that are folders, detector folders that hold something other
    than a saved detector (never replaced), and, with ``--no-clobber``, outputs (files or
    folders) that exist, naming all of them at once. An empty folder is free.

    Called before any slow work, so a long run does not fail at its end.
    """
    from anomark.persistence import check_save_target, is_empty_folder

    given = [p for p in files if p is not None]
    are_folders = [str(p) for p in given if p.is_dir()]
    if are_folders:
        raise ConfigurationError(
            f"{', '.join(are_folders)} "
            f"{'is a folder' if len(are_folders) == 1 else 'are folders'}; give a file name"
        )
    dirs = [p for p in folders if p is not None]
    for folder in dirs:
        try:
            check_save_target(folder, overwrite=True)
        except PersistenceError:
            raise ConfigurationError(
                f"{folder} exists and is not a saved anomark detector (nor an empty folder); "
                "anomark replaces only its own saves: give another folder"
            ) from None
    if no_clobber:
        existing = [
            str(p) for p in [*given, *dirs] if p.exists() and not is_empty_folder(p)
        ]
        if existing:
            one = len(existing) == 1
            raise ConfigurationError(
                f"{', '.join(existing)} already exist{'s' if one else ''}; drop --no-clobber "
                f"to replace {'it' if one else 'them'}"
            )


def missing_action(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The ``func`` of a command group run without its action (``anomark nab``)."""

    def run(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: choose an action (see '{parser.prog} --help')",
              file=sys.stderr)
        return EXIT_ERROR

    return run
