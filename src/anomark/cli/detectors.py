"""``anomark detectors``: list the registered detectors.

Importing the detector classes costs more than a second (scikit-learn, numba, pandas), so
the built-in detectors are listed from their source files instead: each family's
``detectors/<family>/detector.py`` declares its class with the class attributes ``name`` and
``window_param`` and a docstring. A test checks that this listing equals
:func:`anomark.detectors.available_detectors`; when a file cannot be read that way, the
classes are imported.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any, NamedTuple

from anomark.cli._common import EXIT_OK, Formatter, say

__all__ = ["Entry", "catalogue", "register", "run"]


class Entry(NamedTuple):
    """One detector as ``anomark detectors`` lists it."""

    name: str
    class_name: str
    window_param: str | None
    summary: str


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``detectors`` parser to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "detectors", parents=[common], formatter_class=Formatter,
        help="list the available detectors",
        description="List the registered detectors with their window parameter and summary.",
        epilog="example:\n  anomark detectors",
    )
    p.set_defaults(func=run)


def _class_attribute(node: ast.ClassDef, attribute: str) -> Any:
    for stmt in node.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        if isinstance(target, ast.Name) and target.id == attribute and value is not None:
            return ast.literal_eval(value)
    return None


def _first_line(doc: str | None) -> str:
    text = (doc or "").strip()
    return text.splitlines()[0].strip() if text else ""


def _from_sources() -> list[Entry] | None:
    """The built-in detectors read from ``detectors/*/detector.py``; ``None`` when a family's
    file does not declare its detector plainly."""
    root = Path(__file__).resolve().parents[1] / "detectors"
    found: list[Entry] = []
    for file in sorted(root.glob("*/detector.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
            entries = [
                Entry(name, node.name, _class_attribute(node, "window_param"),
                      _first_line(ast.get_docstring(node)))
                for node in tree.body
                if isinstance(node, ast.ClassDef)
                and isinstance(name := _class_attribute(node, "name"), str) and name
            ]
        except (OSError, SyntaxError, ValueError):
            return None
        if len(entries) != 1:
            return None
        found.append(entries[0])
    return sorted(found) or None


def catalogue() -> list[Entry]:
    """The registered detectors, sorted by name (read from the sources when possible)."""
    listed = _from_sources()
    if listed is not None:
        return listed
    from anomark.detectors import available_detectors

    return [
        Entry(name, cls.__name__, cls.window_param, _first_line(cls.__doc__))
        for name, cls in available_detectors().items()
    ]


def run(args: argparse.Namespace) -> int:
    """Run ``anomark detectors``."""
    from anomark.cli.detect import default_detector

    entries = catalogue()
    default = default_detector({e.name: e for e in entries})
    rows = [
        (f"{'*' if e.name == default else ' '}{e.name}", e.class_name, e.window_param or "-",
         e.summary)
        for e in entries
    ]
    widths = [max(len(r[j]) for r in rows) for j in range(3)]
    for r in rows:
        say(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    say("\n* = default for 'anomark detect'; the third column is what --window-size sets.")
    return EXIT_OK
