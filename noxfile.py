"""Developer sessions: ``nox -s tests`` (default fast suite), ``slow``, ``lint``, ``typecheck``,
``docs``, ``bench`` and ``demo``.

The NAB corpus is found through ``ANOMARK_NAB_DIR``; when unset it defaults to
``../shared/data/nab`` if that folder exists beside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).resolve().parent
NAB = ROOT.parent / "shared" / "data" / "nab"
PYTHON = os.environ.get("ANOMARK_NOX_PYTHON") or None  # None: the Python running nox
TEST_EXTRAS = ".[dev,tensorflow,sagemaker]"


def _env() -> dict[str, str]:
    env = {"MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "NO_MKDOCS_2_WARNING": "1"}
    if "ANOMARK_NAB_DIR" not in os.environ and NAB.is_dir():
        env["ANOMARK_NAB_DIR"] = str(NAB)
    return env


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test suite (everything not marked slow), in parallel on all cores."""
    session.install("-e", TEST_EXTRAS)
    session.run(
        "pytest", "-m", "not slow", "-n", "auto", "--dist", "loadfile", *session.posargs,
        env=_env(),
    )


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """Tests marked slow (long training runs, whole-corpus checks, examples)."""
    session.install("-e", TEST_EXTRAS)
    session.run("pytest", "-m", "slow", *session.posargs, env=_env())


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks and examples."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the package."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site (strict: warnings fail the build)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=_env())


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against the reference libraries, measured in the same run.

    ``nox -s bench -- --quick`` runs reduced sizes.
    """
    session.install("-e", ".[all]", "krcf", "rrcf")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env=_env())


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: detect anomalies in NYC taxi ridership and plot them."""
    session.install("-e", ".")
    session.run(
        "anomark", "detect", "nab:realKnownCause/nyc_taxi.csv", "--plot", "taxi.png",
        *session.posargs, env=_env(),
    )
