"""``anomark evaluate``: a saved detection scored with every metric, and ``detect --scores``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.cli import main
from anomark.datasets.synthetic import periodic_series
from anomark.evaluation import evaluate
from anomark.labels import read_windows_file


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path, pd.Series, list]:
    """A scores CSV (timestamp, score, flag) and its labels file."""
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=600, freq="15min", name="timestamp")
    values = rng.random(600)
    values[200:220] += 1.0
    values[450:455] += 0.8
    scores = pd.Series(values, index=index, name="score")
    frame = pd.DataFrame({"score": scores, "flag": (scores > 1.2).astype(int)})
    path = tmp_path / "scores.csv"
    frame.to_csv(path, float_format="%.17g")
    windows = [[str(index[200]), str(index[219])], [str(index[448]), str(index[456])]]
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps(windows))
    return path, labels, scores, read_windows_file(labels)


def test_evaluate_prints_every_metric(
    saved: tuple[Path, Path, pd.Series, list], capsys: pytest.CaptureFixture[str]
) -> None:
    path, labels, scores, windows = saved
    code, out, err = _run(capsys, "evaluate", path, "--labels", labels,
                          "--max-buffer-size", 40, "--json")
    assert code == 0, err
    got = json.loads(out)
    want = evaluate(scores, windows, scores > 1.2, max_buffer_size=40)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key

    code, out, err = _run(capsys, "evaluate", path, "--labels", labels, "--max-buffer-size", 40)
    assert code == 0, err
    assert "600 rows" in out and "2 window(s)" in out and "column 'flag'" in out
    assert f"VUS-PR                          {want['vus_pr']:.4f}" in out
    assert f"{want['range_precision']:.4f} / {want['range_recall']:.4f}" in out
    assert "NAB standard / low FP / low FN" in out


def test_threshold_option_and_scores_only(
    saved: tuple[Path, Path, pd.Series, list], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, labels, scores, windows = saved
    code, out, err = _run(capsys, "evaluate", path, "--labels", labels, "--threshold", 1.5,
                          "--max-buffer-size", 4, "--bias", "front", "--json")
    assert code == 0, err
    want = evaluate(scores, windows, scores > 1.5, max_buffer_size=4, bias="front")
    assert json.loads(out)["range_f1"] == pytest.approx(want["range_f1"])
    only = tmp_path / "only.csv"
    pd.read_csv(path).drop(columns=["flag"]).to_csv(only, index=False)
    code, out, err = _run(capsys, "evaluate", only, "--labels", labels, "--max-buffer-size", 4)
    assert code == 0, err
    assert "flags:   none" in out and "range precision" not in out


def test_detect_scores_file_round_trips_into_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds, windows = periodic_series(n=800, seed=3)
    data = tmp_path / "series.csv"
    ds.frame.to_csv(data)
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps([[str(s), str(e)] for s, e in windows]))
    saved = tmp_path / "scores.csv"
    code, _, err = _run(capsys, "detect", data, "--detector", "iforest", "--window-size", 2,
                        "--param", "n_estimators=20", "--no-output", "--scores", saved)
    assert code == 0, err
    table = pd.read_csv(saved)
    assert list(table.columns) == ["timestamp", "score", "flag"] and len(table) == 800
    code, out, err = _run(capsys, "evaluate", saved, "--labels", labels,
                          "--max-buffer-size", 10, "--json")
    assert code == 0, err
    got = json.loads(out)
    scores = pd.Series(table["score"].to_numpy(), index=pd.DatetimeIndex(table["timestamp"]))
    flags = pd.Series(table["flag"].to_numpy().astype(bool), index=scores.index)
    want = evaluate(scores, windows, flags, max_buffer_size=10)
    assert got["vus_pr"] == pytest.approx(want["vus_pr"], abs=1e-12)
    assert got["event_f1"] == pytest.approx(want["event_f1"])


def test_nab_labels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from anomark.datasets import nab

    name = "realKnownCause/nyc_taxi.csv"
    ds = nab.load(name)  # bundled with anomark
    scores = pd.Series(np.abs(ds.values[:, 0] - ds.values[:, 0].mean()), index=ds.index)
    path = tmp_path / "taxi.csv"
    scores.rename("score").rename_axis("timestamp").to_frame().to_csv(path)
    code, out, err = _run(capsys, "evaluate", path, "--labels", f"nab:{name}",
                          "--max-buffer-size", 8, "--json")
    assert code == 0, err
    assert json.loads(out)["vus_roc"] == pytest.approx(
        evaluate(scores, nab.windows(name), max_buffer_size=8)["vus_roc"])


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (lambda f: f.rename(columns={"score": "s"}), [], "no column 'score'"),
        (lambda f: f.drop(columns=["flag"]).assign(event=1), [],
         "anomark detect --scores"),
        (lambda f: f.assign(flag=["yes"] * len(f)), [], "true/false or 1/0"),
        (lambda f: f.assign(score=["x"] * len(f)), [], "not numeric"),
        (lambda f: f.assign(score=np.nan), [], "NaN"),
        (lambda f: f.assign(score=1.0), [], "constant"),
        (lambda f: f.iloc[:100], [], "contain no timestamp"),
        (lambda f: f, ["--threshold", "nan"], "finite"),
        (lambda f: f, ["--max-buffer-size", "-1"], "max-buffer-size"),
        (lambda f: f, ["--alpha", "2"], "alpha"),
    ],
)
def test_bad_input_is_one_error_line(
    saved: tuple[Path, Path, pd.Series, list], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], change: object, extra: list[str], message: str,
) -> None:
    path, labels, _, _ = saved
    bad = tmp_path / "bad.csv"
    change(pd.read_csv(path)).to_csv(bad, index=False)  # type: ignore[operator]
    code, out, err = _run(capsys, "evaluate", bad, "--labels", labels, *extra)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_missing_files_and_several_series(
    saved: tuple[Path, Path, pd.Series, list], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, labels, _, windows = saved
    code, _, err = _run(capsys, "evaluate", tmp_path / "nope.csv", "--labels", labels)
    assert code == 2 and "not found" in err
    code, _, err = _run(capsys, "evaluate", path, "--labels", tmp_path / "nope.json")
    assert code == 2 and "not found" in err
    several = tmp_path / "combined.json"
    pair = [[str(a), str(b)] for a, b in windows]
    several.write_text(json.dumps({"a/one.csv": pair, "b/two.csv": pair[:1]}))
    code, _, err = _run(capsys, "evaluate", path, "--labels", several)
    assert code == 2 and "none matches" in err
    code, out, err = _run(capsys, "evaluate", path, "--labels", several, "--series", "two.csv",
                          "--max-buffer-size", 2, "--json")
    assert code == 0, err
    assert not math.isnan(json.loads(out)["vus_pr"])
