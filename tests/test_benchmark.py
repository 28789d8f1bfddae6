"""The NAB benchmark runner and `anomark benchmark nab` (small subsets of the corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anomark.benchmark import (
    alarm_onsets,
    probation_rows,
    refit_points,
    run_nab_benchmark,
    score_nab_series,
    write_outputs,
)
from anomark.cli import main
from anomark.errors import ConfigurationError

SERIES = [
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realKnownCause/ambient_temperature_system_failure.csv",
]


def test_probation_rows_follows_nab() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(4032) == 604
    assert probation_rows(22695) == 750


def test_refit_points_spread_over_the_series_after_probation() -> None:
    assert refit_points(4000, 0) == [600]
    assert refit_points(4000, 4) == [600, 1280, 1960, 2640, 3320]


def test_refits_never_look_ahead(nab_dir: Path) -> None:
    """Each stretch's scores come from a model fitted only on rows before the stretch."""
    from anomark import Dataset, IsolationForestDetector
    from anomark.benchmark import make_nab_detector
    from anomark.datasets import nab

    name = SERIES[0]
    result = score_nab_series("iforest", name, seed=0, refits=2)
    points = result["refit_points"]
    assert len(points) == 3 and points[0] == probation_rows(4032)
    ds = nab.load(name)
    frame = ds.frame
    # the last stretch, recomputed by hand from rows before its refit point only
    det = make_nab_detector("iforest", ds, points[0], 0)
    assert isinstance(det, IsolationForestDetector)
    det.fit(Dataset(frame.iloc[: points[2]]))
    context = points[2] - 2 * points[0]
    raw = det.score(Dataset(frame.iloc[context:])).to_numpy()[points[2] - context :]
    np.testing.assert_allclose(result["raw"][points[2] :], raw)
    # every row gets a standardised score
    assert np.isfinite(result["scores"]).all() and len(result["scores"]) == len(ds)


def test_alarm_onsets_suppresses_repeats_within_refractory_period() -> None:
    flags = np.array([0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    assert np.flatnonzero(alarm_onsets(flags, 0)).tolist() == [1, 2, 3, 6, 11]
    assert np.flatnonzero(alarm_onsets(flags, 3)).tolist() == [1, 6, 11]
    assert np.flatnonzero(alarm_onsets(flags, 5)).tolist() == [1, 11]


def test_run_is_cached_and_resumable(nab_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=cache, progress=False)
    files = sorted(cache.rglob("*.npz"))
    assert len(files) == 2
    # a rerun reads the cache: identical results even though nothing is refitted
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=cache, progress=False)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert again.summary.equals(first.summary)
    # an interrupted run (one series missing from the cache) computes only the missing one
    files[0].unlink()
    resumed = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=cache, progress=False)
    assert files[0].is_file() and files[1].stat().st_mtime_ns == mtimes[1]  # not recomputed
    assert resumed.summary.loc["iforest", "standard"] == pytest.approx(
        first.summary.loc["iforest", "standard"]
    )
    summary = first.summary.loc["iforest"]
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):  # exact values:
        assert -100 < summary[profile] <= 100  # test_benchmark_values.py
    assert 0 <= summary["f1"] <= 1
    assert set(first.per_series["series"]) == set(SERIES)


def test_outputs_and_cli(nab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["benchmark", "nab", "--detectors", "iforest", "--series", ",".join(SERIES),
            "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "iforest" in text and "standard" in text and "wrote" in text
    for name in ("summary.csv", "per_series.csv", "results.json", "scoreboard.png"):
        assert (out / name).stat().st_size > 100
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["thresholds"]["iforest"]) == {
        "standard", "reward_low_FP_rate", "reward_low_FN_rate"
    }
    # outputs are replaced by default; --no-clobber refuses, naming every existing output
    assert main([*argv, "--no-clobber"]) == 2
    err = capsys.readouterr().err
    assert "already exist; drop --no-clobber" in err
    assert "summary.csv" in err and "scoreboard.png" in err
    assert main([a for a in argv if a != "--quiet"]) == 0  # stderr is no terminal: no bar
    err = capsys.readouterr().err
    assert "\r" not in err and "NAB iforest" not in err


def test_bad_arguments(nab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "nab", "--detectors", "nope", "--output-dir", str(tmp_path)]) == 2
    assert "unknown detector" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="jobs must be >= 1"):
        run_nab_benchmark(["iforest"], series=SERIES, jobs=0, cache_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="no detectors"):
        run_nab_benchmark([], series=SERIES, cache_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="refits"):
        run_nab_benchmark(["iforest"], series=SERIES, refits=-1, cache_dir=tmp_path)


def test_write_outputs_creates_chart(nab_dir: Path, tmp_path: Path) -> None:
    result = run_nab_benchmark(["iforest"], series=SERIES[:1], cache_dir=tmp_path / "c",
                               progress=False)
    files = write_outputs(result, tmp_path / "o")
    assert [f.name for f in files] == ["summary.csv", "per_series.csv", "results.json",
                                       "scoreboard.png"]


# ---------------------------------------------------------------------- stream mode
def test_alarm_onsets_by_time_treat_irregular_sampling_alike() -> None:
    import pandas as pd

    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 06:00", "2024-01-02 00:00",
                            "2024-01-02 00:05", "2024-01-05 00:00", "2024-01-05 01:00"])
    flags = np.ones(6, dtype=bool)
    assert np.flatnonzero(alarm_onsets(flags, "1D", times)).tolist() == [0, 3, 4]
    assert np.flatnonzero(alarm_onsets(flags, None, times)).tolist() == [0, 3, 4]  # one day
    assert np.flatnonzero(alarm_onsets(flags, "2h", times)).tolist() == [0, 1, 2, 4]
    with pytest.raises(ConfigurationError, match="needs the rows' timestamps"):
        alarm_onsets(flags, "1D")
    with pytest.raises(ConfigurationError, match="duration"):
        alarm_onsets(flags, "soon", times)


def test_stream_mode_runs_online_with_default_postprocessing(nab_dir: Path, tmp_path: Path) -> None:
    from anomark.benchmark import DEFAULT_STREAM_POSTPROCESS, postprocess_scores
    from anomark.datasets import nab

    cache = tmp_path / "cache"
    result = run_nab_benchmark(["rcf"], series=SERIES, mode="stream", cache_dir=cache,
                               progress=False)
    assert result.config["mode"] == "stream"
    assert result.config["postprocess"] == DEFAULT_STREAM_POSTPROCESS
    assert -100 < result.summary.loc["rcf", "standard"] <= 100
    assert len(sorted(cache.rglob("*.npz"))) == 2 and all("stream" in str(p) for p in
                                                          cache.rglob("*.npz"))
    # another post-processing reuses the cached raw scores (nothing is rescored)
    mtimes = sorted(f.stat().st_mtime_ns for f in cache.rglob("*.npz"))
    raw_run = run_nab_benchmark(["rcf"], series=SERIES, mode="stream", postprocess="none",
                                cache_dir=cache, progress=False)
    assert sorted(f.stat().st_mtime_ns for f in cache.rglob("*.npz")) == mtimes
    assert raw_run.config["postprocess"] == "none"
    # the thresholds are NAB's corpus optimum of the post-processed scores
    ds = nab.load(SERIES[0])
    cached = np.load(next(cache.rglob(SERIES[0].replace("/", "__") + ".npz")))["raw"]
    post = postprocess_scores(DEFAULT_STREAM_POSTPROCESS, cached, ds.values)
    assert post.shape == (len(ds),) and np.isfinite(post).all()


def test_stream_mode_never_looks_ahead(nab_dir: Path) -> None:
    """Scores, post-processed scores and alarm onsets of a row never depend on later rows."""
    from anomark import Dataset
    from anomark.benchmark import DEFAULT_STREAM_POSTPROCESS, postprocess_scores, stream_scores
    from anomark.datasets import nab

    ds = nab.load(SERIES[0])
    frame = ds.frame.iloc[:2500]
    cut = 1800
    changed = frame.copy()
    changed.iloc[cut:, 0] = np.random.default_rng(0).normal(0.0, 500.0, len(frame) - cut)
    outs = []
    for f in (frame, changed):
        part = Dataset(f, name=ds.name)
        raw, ready, _, _ = stream_scores("rcf", part, seed=3)
        assert not ready[:47].any() and ready[-1]
        post = postprocess_scores(DEFAULT_STREAM_POSTPROCESS, raw, part.values, ready)
        onsets = alarm_onsets(post >= 2.0, "1D", part.index)
        outs.append((raw, post, onsets))
    for a, b in zip(outs[0], outs[1], strict=True):
        np.testing.assert_array_equal(a[:cut], b[:cut])
    # the benchmark post-processes exactly as the detector does with postprocess= steps
    from anomark.benchmark import make_nab_detector
    from anomark.postprocess import parse_postprocess

    part = Dataset(frame, name=ds.name)
    det = make_nab_detector("rcf", part, probation_rows(len(part)), 3)
    det.set_params(postprocess=parse_postprocess(DEFAULT_STREAM_POSTPROCESS))
    np.testing.assert_array_equal(det.score_update(part).to_numpy(), outs[0][1])
    assert not np.array_equal(outs[0][0][cut:], outs[1][0][cut:])  # the future did change


def test_stream_mode_needs_a_streaming_detector(nab_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigurationError, match="cannot learn a stream"):
        run_nab_benchmark(["iforest"], series=SERIES[:1], mode="stream", cache_dir=tmp_path,
                          progress=False)
    # refused before any series is run, also when a streaming detector comes first
    with pytest.raises(ConfigurationError) as info:
        run_nab_benchmark(["rcf", "iforest"], series=SERIES[:1], mode="stream",
                          cache_dir=tmp_path / "early", progress=False)
    assert str(info.value) == (
        "detector 'iforest' cannot learn a stream (no score_update); stream mode needs a "
        "streaming detector (rcf; use mode='batch' for the others)"
    )
    assert not (tmp_path / "early").exists()
    with pytest.raises(ConfigurationError, match="mode must be one of"):
        run_nab_benchmark(["rcf"], series=SERIES[:1], mode="online", cache_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="refits applies to batch mode"):
        run_nab_benchmark(["rcf"], series=SERIES[:1], mode="stream", refits=2,
                          cache_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="unknown post-processor"):
        run_nab_benchmark(["rcf"], series=SERIES[:1], mode="stream", postprocess="smooth",
                          cache_dir=tmp_path)
    out = tmp_path / "out"
    argv = ["benchmark", "nab", "--detectors", "rcf", "--series", SERIES[0], "--mode",
            "stream", "--postprocess", "zscore+range:value=10", "--cache-dir",
            str(tmp_path / "c"), "--output-dir", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "mode stream, post-processing zscore+range:value=10.0" in text
    payload = json.loads((out / "results.json").read_text())
    assert payload["config"]["postprocess"] == "zscore+range:value=10.0"
    # without --detectors, stream mode runs the detectors that learn a stream
    argv = [a for a in argv if a not in ("--detectors", "rcf")]
    assert main(argv) == 0
    payload = json.loads((out / "results.json").read_text())
    assert sorted(payload["timings"]) == ["rcf"], payload["timings"]
