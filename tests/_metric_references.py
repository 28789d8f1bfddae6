"""Loading the reference implementations of the range metrics: TimeEval's metrics and prts.

Used by ``test_evaluation_reference.py`` and ``benchmarks/bench_vus.py``. Both packages are
installed without their dependencies (``pip install --no-deps timeeval==1.5.0 prts==1.0.0.3``;
``nox -s tests`` does it): TimeEval 1.5 pins dask 2022.12 and prts pins NumPy < 2. Only
TimeEval's ``metrics`` subpackage is loaded, as a package of its own, so ``timeeval/__init__``
(dask, docker...) never runs; it needs NumPy, scikit-learn and prts, and NumPy 2's removed
``np.float_`` is restored for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

INSTALL = "pip install --no-deps timeeval==1.5.0 prts==1.0.0.3"
_NAME = "_timeeval_metrics"


def load_timeeval_metrics() -> ModuleType:
    """``timeeval.metrics`` without the rest of TimeEval.

    Raises
    ------
    ImportError
        timeeval or prts is not installed (the message says how to install them).
    """
    spec = importlib.util.find_spec("timeeval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"timeeval is not installed ({INSTALL})")
    if importlib.util.find_spec("prts") is None:
        raise ImportError(f"prts is not installed ({INSTALL})")
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    if not hasattr(np, "float_"):
        setattr(np, "float_", np.float64)  # noqa: B010  # TimeEval 1.5 predates NumPy 2
    folder = Path(next(iter(spec.submodule_search_locations))) / "metrics"
    sub = importlib.util.spec_from_file_location(
        _NAME, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if sub is None or sub.loader is None:
        raise ImportError(f"timeeval.metrics not found under {folder}")
    module = importlib.util.module_from_spec(sub)
    sys.modules[_NAME] = module
    try:
        sub.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module


def load_prts() -> ModuleType:
    """The prts package (raises ImportError with the install hint when missing)."""
    try:
        return importlib.import_module("prts")
    except ImportError:
        raise ImportError(f"prts is not installed ({INSTALL})") from None
