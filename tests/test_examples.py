"""Every example runs end to end as a script on small settings (slow: real training)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.slow


def _run(script: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(sys, "argv", [script, *argv])
    return runpy.run_path(str(EXAMPLES / script), run_name="example")


def test_nyc_taxi_rcf(nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _run("nyc_taxi_rcf.py", [], monkeypatch)
    found = module["main"](["--num-trees", "50", "--plot", str(tmp_path / "taxi.png")])
    assert set(found) == {"NYC marathon", "Thanksgiving", "Christmas", "New Year", "Blizzard"}
    assert sum(found.values()) >= 2
    assert (tmp_path / "taxi.png").stat().st_size > 10_000


def test_compare_detectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    module = _run("compare_detectors.py", [], monkeypatch)
    table = module["main"](["--quick", "--window", "12"])
    assert set(table.index.get_level_values("detector")) == {"rcf", "iforest", "conv-ae"}
    assert len(table) == 3 * 4
    assert table["best_f1"].between(0, 1).all()
    # the synthetic anomalies are clear: the best detector finds most of them
    assert table["best_f1"].max() >= 0.5


def test_multisensor_conv_autoencoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    module = _run("multisensor_conv_autoencoder.py", [], monkeypatch)
    scores = module["main"](["--quick", "--plot", str(tmp_path / "ms.png"),
                             "--workdir", str(tmp_path / "work")])
    assert scores["recall"] >= 0.5
    assert (tmp_path / "ms.png").stat().st_size > 10_000


def test_readme_example_runs_twice_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example, as written, twice in a row, with no network and no
    ANOMARK_NAB_DIR (the NYC taxi series ships with anomark; the save passes overwrite=True)."""
    import socket

    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'det.save("models/taxi-rcf", overwrite=True)' in code
    monkeypatch.delenv("ANOMARK_NAB_DIR", raising=False)
    monkeypatch.setenv("ANOMARK_CACHE_DIR", str(tmp_path / "cache"))

    def refuse(self: socket.socket, address: object, *args: object) -> None:
        raise OSError(f"network disabled in this test (connect to {address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)  # the README's code, as written
        np.testing.assert_array_equal(namespace["same"], namespace["result"].scores)
    assert (tmp_path / "taxi.png").stat().st_size > 10_000
    assert (tmp_path / "models" / "taxi-rcf" / "config.json").is_file()
    assert not (tmp_path / "cache").exists()
