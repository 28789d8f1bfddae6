"""``import anomark`` stays light (no TensorFlow, Keras, SageMaker SDK); public names resolve.

Both checks run in a fresh interpreter: the test process itself may already have imported
TensorFlow for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import anomark

HEAVY = ("tensorflow", "keras", "sagemaker")


def _run(code: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_anomark_does_not_import_heavy_dependencies():
    loaded = _run(
        f"""
        import json, sys
        import anomark
        print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))
        """
    )
    assert loaded == [], f"`import anomark` imported {loaded}"


@pytest.fixture(scope="module")
def resolved() -> dict[str, dict[str, Any]]:
    """Resolve every name of ``anomark.__all__`` in a fresh interpreter."""
    return _run(
        f"""
        import importlib, json, sys
        import anomark
        out = {{}}
        for name in anomark.__all__:
            try:
                getattr(anomark, name)
            except ModuleNotFoundError as exc:
                out[name] = {{"status": "missing", "module": exc.name}}
            except Exception as exc:
                out[name] = {{"status": "error", "error": repr(exc)}}
            else:
                out[name] = {{"status": "ok"}}
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})
        print(json.dumps({{"names": out, "heavy": heavy}}))
        """
    )


@pytest.mark.parametrize("name", anomark.__all__)
def test_public_name_resolves(name: str, resolved: dict[str, Any]):
    result = resolved["names"][name]
    if result["status"] == "missing" and str(result["module"]).startswith("anomark."):
        pytest.skip(f"{name}: module {result['module']} is not written yet")
    assert result["status"] == "ok", f"anomark.{name} does not resolve: {result}"


def test_resolving_public_names_stays_light(resolved: dict[str, Any]):
    # the detector classes and SageMakerConfig import their heavy dependencies only when used
    assert resolved["heavy"] == [], f"resolving anomark.__all__ imported {resolved['heavy']}"


def test_unknown_attribute():
    with pytest.raises(AttributeError, match=r"has no attribute 'Nope'"):
        anomark.Nope  # noqa: B018


def test_version_and_dir():
    assert isinstance(anomark.__version__, str)
    assert set(anomark.__all__) <= set(dir(anomark))
