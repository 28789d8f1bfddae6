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
    """Every public name imports; a missing ``anomark.*`` module (a typo in a lazy import
    path) fails here like any other error, it is never skipped."""
    result = resolved["names"][name]
    assert result["status"] == "ok", f"anomark.{name} does not resolve: {result}"


def test_every_lazy_name_is_public_and_resolves_to_itself():
    """The lazy table names only public names, each found in the module it points at."""
    import importlib

    lazy = anomark._LAZY
    assert set(lazy) <= set(anomark.__all__), sorted(set(lazy) - set(anomark.__all__))
    for name, module in lazy.items():
        assert module.startswith("anomark."), (name, module)
        value = getattr(importlib.import_module(module), name)
        assert getattr(anomark, name) is value, name


def test_a_typo_in_a_lazy_path_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch):
    """What the table check above guards against: the error names the missing module."""
    name = next(iter(anomark._LAZY))
    monkeypatch.setitem(anomark._LAZY, name, "anomark.no_such_module")
    monkeypatch.delitem(vars(anomark), name, raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"anomark\.no_such_module"):
        getattr(anomark, name)


def test_resolving_public_names_stays_light(resolved: dict[str, Any]):
    # the detector classes and SageMakerConfig import their heavy dependencies only when used
    assert resolved["heavy"] == [], f"resolving anomark.__all__ imported {resolved['heavy']}"


def test_unknown_attribute():
    with pytest.raises(AttributeError, match=r"has no attribute 'Nope'"):
        anomark.Nope  # noqa: B018


def test_version_and_dir():
    assert isinstance(anomark.__version__, str)
    assert set(anomark.__all__) <= set(dir(anomark))


def test_installed_versions_reports_tensorflow_cpu_as_tensorflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import anomark._optional as optional

    def version(dist: str) -> str:
        known = {"tensorflow-cpu": "2.21.0", "numpy": "2.0.0"}
        if dist not in known:
            raise optional.metadata.PackageNotFoundError(dist)
        return known[dist]

    monkeypatch.setattr(optional.metadata, "version", version)
    assert optional.installed_versions(("numpy", "tensorflow", "keras")) == {
        "numpy": "2.0.0",
        "tensorflow": "2.21.0",
    }
