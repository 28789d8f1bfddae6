"""Developer sessions: ``nox -s tests`` (default fast suite), ``slow``, ``lint``, ``typecheck``,
``docs``, ``bench``, ``demo`` and ``mutate``.

The NAB corpus is found through ``ANOMARK_NAB_DIR``; when unset it defaults to
``../shared/data/nab`` if that folder exists beside the checkout. Tests, benchmarks and the
demo keep numba's compiled kernels in ``.numba-cache/<digest of the compiled sources>``, so
that an edit to a compiled helper is never masked by a kernel cached before it
(``tests/_numba_cache.py``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).resolve().parent
NAB = ROOT.parent / "shared" / "data" / "nab"
PYTHON = os.environ.get("ANOMARK_NOX_PYTHON") or None  # None: the Python running nox
TEST_EXTRAS = ".[dev,tensorflow,sagemaker]"
# Reference implementations the range-metric tests compare against (tests/test_evaluation_
# reference.py). Installed without their dependencies: TimeEval 1.5 pins dask 2022.12 and prts
# pins NumPy < 2, yet TimeEval's metrics subpackage needs only NumPy, scikit-learn and prts.
METRIC_REFERENCES = ("timeeval==1.5.0", "prts==1.0.0.3")


def _env() -> dict[str, str]:
    env = {"MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "NO_MKDOCS_2_WARNING": "1"}
    if "ANOMARK_NAB_DIR" not in os.environ and NAB.is_dir():
        env["ANOMARK_NAB_DIR"] = str(NAB)
    return env


def _numba_env() -> dict[str, str]:
    """``_env()`` plus a numba cache folder that follows the compiled sources, for sessions
    that run anomark outside pytest (whose conftest does the same): numba's cache misses
    edits to a helper compiled into a kernel of another file, see tests/_numba_cache.py."""
    import importlib.util

    path = ROOT / "tests" / "_numba_cache.py"
    spec = importlib.util.spec_from_file_location("_numba_cache", path)
    assert spec is not None and spec.loader is not None
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    folder = os.environ.get("NUMBA_CACHE_DIR") or helper.prepare_numba_cache_dir(ROOT)
    return {**_env(), "NUMBA_CACHE_DIR": folder}


def _install(session: nox.Session, *args: str) -> None:
    """pip install with its output shown (nox hides it by default: a silent wait), without
    compiling every installed module to bytecode up front: most of TensorFlow, sympy and
    moto's dependencies are never imported by the tests, and Python compiles what is imported
    on first use. Measured on the shared 2-core machine (load 7-9), a fresh install of the
    tests' dependencies took 167 s with the compilation and 99 s without."""
    session.install("--no-compile", *args, silent=False)


def _tensorflow_cpu() -> list[str]:
    """The ``tensorflow`` extra's requirements with TensorFlow's CPU-only build on Linux x86-64
    (``tensorflow-cpu``: a 274 MB wheel instead of TensorFlow's 620 MB one, the same module;
    the tests never use a GPU). Elsewhere ``[]``: the extra itself is installed."""
    if not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")):
        return []
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]
    return [
        "tensorflow-cpu" + req[len("tensorflow"):] if req.startswith("tensorflow") else req
        for req in extras["tensorflow"]
    ]


def _install_test_deps(session: nox.Session) -> None:
    cpu = _tensorflow_cpu()
    if cpu:
        _install(session, "-e", TEST_EXTRAS.replace("tensorflow,", ""), *cpu)
    else:
        _install(session, "-e", TEST_EXTRAS)
    _install(session, "--no-deps", "--ignore-requires-python", *METRIC_REFERENCES)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test suite (everything not marked slow), in parallel on all cores."""
    _install_test_deps(session)
    session.run(
        "pytest", "-m", "not slow", "-n", "auto", "--dist", "loadfile", *session.posargs,
        env=_env(),
    )


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """Tests marked slow (long training runs, whole-corpus checks, examples)."""
    _install_test_deps(session)
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
    _install(session, "--no-deps", "--ignore-requires-python", *METRIC_REFERENCES)
    env = _numba_env()
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env=env)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: detect anomalies in NYC taxi ridership and plot them (the series ships
    with anomark: no network needed)."""
    _install(session, "-e", ".")
    session.run(
        "anomark", "detect", "nab:realKnownCause/nyc_taxi.csv", "--plot", "taxi.png",
        *session.posargs, env=_numba_env(),
    )


#: Mutation testing (``nox -s mutate [-- MODULE ...]``): module -> (files mutated, tests run).
#: Each module runs on its own with only its matching tests, so a run stays short.
MUTATE: dict[str, tuple[list[str], list[str]]] = {
    "windowing": (
        ["src/anomark/windowing.py"],
        ["tests/test_windowing.py", "tests/test_windowing_defaults.py",
         "tests/test_fuzz_components.py"],
    ),
    "persistence": (
        ["src/anomark/persistence.py"],
        ["tests/test_persistence.py", "tests/test_persistence_files.py"],
    ),
    "nab": (
        ["src/anomark/evaluation/nab.py", "src/anomark/evaluation/events.py"],
        ["tests/test_evaluation.py", "tests/test_evaluation_edges.py"],
    ),
    "labels": (
        ["src/anomark/labels.py"],
        ["tests/test_labels.py", "tests/test_labels_messages.py", "tests/test_evaluation.py"],
    ),
    "threshold": (
        ["src/anomark/threshold.py", "src/anomark/_gpd.py"],
        ["tests/test_threshold.py", "tests/test_threshold_evt.py",
         "tests/test_threshold_edges.py", "tests/test_gpd.py", "tests/test_fuzz_components.py"],
    ),
    "range_metrics": (
        ["src/anomark/evaluation/range.py", "src/anomark/evaluation/vus.py",
         "src/anomark/evaluation/_points.py", "src/anomark/evaluation/summary.py"],
        ["tests/test_evaluation_range.py", "tests/test_evaluation_range_edges.py",
         "tests/test_evaluation_reference.py"],
    ),
    "readers": (
        ["src/anomark/readers.py", "src/anomark/dataset.py"],
        ["tests/test_dataset.py", "tests/test_fuzz_dataset.py", "tests/test_dataset_files.py",
         "tests/test_readers_edges.py"],
    ),
    "postprocess": (
        ["src/anomark/postprocess/*"],
        ["tests/test_postprocess.py", "tests/test_postprocess_detectors.py",
         "tests/test_postprocess_edges.py"],
    ),
    "rcf_stream": (
        ["src/anomark/detectors/rcf/streaming.py", "src/anomark/detectors/rcf/_online.py"],
        ["tests/test_rcf_stream.py", "tests/test_forest.py", "tests/test_rcf_stream_edges.py"],
    ),
}


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Mutation testing with mutmut, one module at a time: ``nox -s mutate -- windowing labels``.

    Modules (default: all): see ``MUTATE`` in this file. Each runs in ``.mutmut/<module>/``
    (mutmut copies the package there and plants one change at a time), at low priority
    (``nice -n 19``) on ``$ANOMARK_MUTATE_JOBS`` processes (default 2), and prints its counts and
    how long it took; ``mutmut results`` / ``mutmut show NAME`` inside that folder list the
    survivors. Test files of the table that do not exist (yet) are left out.
    """
    mutmut = "mutmut"
    if session.venv_backend != "none":
        session.install("-e", ".[dev]")
    else:  # ``--no-venv``: the environment running nox, as it is
        mutmut = str(Path(sys.executable).with_name("mutmut"))
    names = session.posargs or list(MUTATE)
    unknown = [n for n in names if n not in MUTATE]
    if unknown:
        session.error(f"unknown module(s) {unknown}; choose from {sorted(MUTATE)}")
    jobs = os.environ.get("ANOMARK_MUTATE_JOBS", "2")
    for name in names:
        mutated, tests = MUTATE[name]
        tests = [t for t in tests if (ROOT / t).is_file()]
        if not tests or not any(ROOT.glob(m.removeprefix("./")) for m in mutated):
            session.warn(f"{name}: no source or no test files yet; skipped")
            continue
        work = _mutate_folder(name, mutated, tests)
        session.chdir(work)
        start = time.monotonic()
        session.run("nice", "-n", "19", mutmut, "run", "--max-children", jobs, env=_env(),
                    external=True, success_codes=[0, 1])
        session.run(mutmut, "export-cicd-stats", external=True, silent=True)
        stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
        total = stats["total"] or 1
        session.log(
            f"{name}: {stats['killed']}/{stats['total']} killed "
            f"({100.0 * stats['killed'] / total:.1f} %), {stats['survived']} survived, "
            f"{stats['no_tests']} without tests, {stats['timeout']} timed out; "
            f"{time.monotonic() - start:.0f} s"
        )
        session.chdir(ROOT)


def _mutate_folder(name: str, mutated: list[str], tests: list[str]) -> Path:
    """A fresh ``.mutmut/<name>`` with links to the sources and a ``setup.cfg`` for mutmut."""
    work = ROOT / ".mutmut" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for item in ("src", "tests"):
        (work / item).symlink_to(ROOT / item, target_is_directory=True)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    lines = [
        "[mutmut]",
        "source_paths = src",
        "only_mutate =", *(f"    {m}" for m in mutated),
        "also_copy =", "    tests",
        "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests),
        # the slow suite (whole-corpus reference runs) would cost minutes per mutant; TensorFlow
        # deadlocks in a child forked from a process that loaded it (mutmut forks each
        # mutant's run from the one that collected the test statistics): every mutant
        # reaching a TensorFlow case would hang until its timeout
        "pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -m",
        "    not slow and not tensorflow",
        # a shared machine slows every run down: a mutant times out only when really stuck
        "timeout_multiplier = 40",
    ]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n")
    return work
