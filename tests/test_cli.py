"""The ``anomark`` command line, run in-process through ``main([...])``."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.cli import main
from anomark.cli._report import anomalies_csv
from anomark.cli.detect import parse_param
from anomark.datasets.synthetic import multisensor, periodic_series, write_daily_csvs
from anomark.errors import ConfigurationError, DataError
from anomark.threshold import Threshold

TAXI = "realKnownCause/nyc_taxi.csv"


@pytest.fixture
def series_csv(tmp_path: Path) -> tuple[Path, Path]:
    """A synthetic series as CSV (``timestamp,value``) and its true windows as JSON."""
    ds, windows = periodic_series(n=1500, seed=2)
    path = tmp_path / "series.csv"
    ds.frame.to_csv(path)
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps([[str(s), str(e)] for s, e in windows]))
    return path, labels


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _flagged(out: str) -> int:
    line = next(line for line in out.splitlines() if line.startswith("flagged:"))
    return int(line.split()[1])


# ---------------------------------------------------------------------- end to end
def test_detect_nab_taxi_end_to_end(
    nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(
        capsys, "detect", f"nab:{TAXI}", "--detector", "iforest", "--plot", "taxi.png"
    )
    assert code == 0, err
    assert "\r" not in err  # no progress bar when stderr is not a terminal
    assert f"source:    {TAXI} (10320 rows x 1 column" in out
    assert "IsolationForestDetector(random_state=0, window_size=48)" in out  # one day
    header = next(line for line in out.splitlines() if "peak score" in line)
    assert header.split()[:4] == ["#", "start", "end", "points"]
    metrics = next(line for line in out.splitlines() if line.startswith("labelled windows: 5"))
    for word in ("precision", "recall", "F1"):
        assert word in metrics
    recall = float(metrics.split("recall ")[1].split(",")[0])
    assert 0.0 < recall <= 1.0

    csv = tmp_path / "nyc_taxi_anomalies.csv"  # the default output name
    table = pd.read_csv(csv, parse_dates=["timestamp"])
    # the default seasonal stage adds the residual against the same time in earlier weeks
    assert list(table.columns) == ["timestamp", "event", "score", "value",
                                   "value.seasonal_residual"]
    assert len(table) == _flagged(out) > 0
    assert table["timestamp"].is_monotonic_increasing
    assert table["event"].iloc[0] == 1 and table["event"].is_monotonic_increasing
    threshold = float(out.split("threshold: ")[1].split("= ")[1].split()[0])
    assert (table["score"] > threshold).all()
    png = tmp_path / "taxi.png"
    assert png.stat().st_size > 20_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote anomalies: {csv.name}" in out and "wrote plot:      taxi.png" in out
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_detect_plain_csv_with_labels_and_options(
    series_csv: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, labels = series_csv
    output = tmp_path / "out" / "flags.csv"
    code, out, err = _run(
        capsys, "detect", path, "--detector", "iforest", "--threshold", "quantile:0.99",
        "--window-size", 2, "--param", "n_estimators=50", "--labels", labels,
        "--output", output, "--max-events", 3,
    )
    assert code == 0, err
    assert "IsolationForestDetector(n_estimators=50, random_state=0, window_size=2)" in out
    assert "Threshold.quantile(q=0.99)" in out
    assert "labelled windows: 6; event precision" in out
    rows = [line for line in out.splitlines() if line[:3].strip().isdigit()]
    assert 1 <= len(rows) <= 3
    flagged = _flagged(out)
    assert flagged == pytest.approx(0.01 * 1500, abs=2)
    assert len(pd.read_csv(output)) == flagged


def test_detect_replaces_its_outputs_unless_no_clobber(
    series_csv: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = series_csv
    output, plot, model = tmp_path / "a.csv", tmp_path / "a.png", tmp_path / "model"
    output.write_text("keep me")
    plot.write_bytes(b"keep me too")
    argv = ["detect", path, "--detector", "iforest", "-o", output, "--plot", plot,
            "--save", model]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert output.read_text().startswith("timestamp,event,score,value")
    assert (model / "config.json").exists()
    before = {p: p.read_bytes() for p in (output, plot)}
    code, out, err = _run(capsys, *argv, "--no-clobber")  # every existing output, at once
    assert code == 2 and out == ""
    assert err == (f"error: {output}, {plot}, {model} already exist; drop --no-clobber to "
                   "replace them\n")
    assert {p: p.read_bytes() for p in (output, plot)} == before
    code, out, err = _run(capsys, *argv)  # the default replaces them again
    assert code == 0, err
    code, _, err = _run(capsys, "detect", path, "--detector", "iforest", "-o", tmp_path)
    assert code == 2 and "is a folder; give a file name" in err


def test_detect_save_folder_is_checked_before_any_work(
    series_csv: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = series_csv
    output = tmp_path / "a.csv"
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    argv = ["detect", path, "--detector", "iforest", "-o", output, "--save"]
    code, out, err = _run(capsys, *argv, precious)
    assert code == 2 and out == "" and not output.exists()  # nothing fitted, nothing written
    assert err == (f"error: {precious} exists and is not a saved anomark detector (nor an "
                   "empty folder); anomark replaces only its own saves: give another folder\n")
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _run(capsys, *argv, empty, "--no-clobber")  # nothing in it to clobber
    assert code == 0, err
    assert (empty / "config.json").exists() and output.exists()


def test_detect_save_then_load(
    series_csv: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = series_csv
    model = tmp_path / "model"
    code, out, err = _run(
        capsys, "detect", path, "--detector", "iforest", "--save", model, "--no-output"
    )
    assert code == 0, err
    assert (model / "config.json").exists() and f"wrote detector:  {model}" in out
    first = _flagged(out)
    code, out2, err = _run(capsys, "detect", path, "--load", model, "--no-output")
    assert code == 0, err
    assert f"loaded from {model}" in out2 and _flagged(out2) == first
    code, _, err = _run(capsys, "detect", path, "--load", model, "--param", "n_estimators=5")
    assert code == 2 and "--load scores with the saved detector" in err


def test_detect_train_until(
    series_csv: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = series_csv
    cut = str(pd.read_csv(path)["timestamp"].iloc[600])
    code, out, err = _run(
        capsys, "detect", path, "--detector", "iforest", "--train-until", cut, "--no-output"
    )
    assert code == 0, err
    assert "fitted on the first 600 of 1500 rows" in out


def test_detect_sensors_from_daily_csvs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ds, _ = multisensor(days=1, n_echo_bins=12, n_adcp_depths=3, n_hydrophone_bands=4, seed=1)
    patterns = write_daily_csvs(tmp_path / "raw", ds)
    monkeypatch.chdir(tmp_path)
    sensors = [arg for name, pat in patterns.items() for arg in ("--sensor", f"{name}={pat}")]
    code, _, err = _run(capsys, "detect", *sensors, "--detector", "iforest")
    assert code == 2
    assert "missing values" in err and "--fill interpolate" in err and "ctd." in err
    code, out, err = _run(
        capsys, "detect", *sensors, "--detector", "iforest", "--fill", "interpolate",
        "--plot", "sensors.png",
    )
    assert code == 0, err
    assert f"(1440 rows x {ds.n_features} columns" in out
    assert (tmp_path / "sensors_anomalies.csv").exists()
    assert (tmp_path / "sensors.png").stat().st_size > 20_000


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "argv, message",
    [
        (["detect", "missing.csv"], "error: CSV file not found: missing.csv"),
        (["detect", "nothing-*.csv"], "error: no files match 'nothing-*.csv'"),
        (["detect", "{csv}", "--threshold", "median:3"], "error: unknown threshold 'median:3'"),
        (["detect", "{csv}", "--threshold", "mean_std:x"], "must be a number"),
        (["detect", "{csv}", "--threshold", "quantile:2"], "q must be in (0, 1)"),
        (["detect", "{csv}", "--detector", "nope"], "unknown detector 'nope'; available:"),
        (["detect", "{csv}", "--detector", "iforest", "--param", "trees=3"],
         "has no parameter 'trees'"),
        (["detect", "{csv}", "--detector", "iforest", "--param", "n_estimators=-3"],
         "n_estimators"),
        (["detect", "{csv}", "--plot", "fig.gif"], "must end with one of"),
        (["detect", "{csv}", "--labels", "{tmp}/none.json"], "labels file not found"),
        (["detect", "{bad}"], "column 'value' is not numeric"),
        (["detect", "{csv}", "--time-column", "when"], "time column 'when' not found"),
    ],
)
def test_bad_input_gives_one_clean_line_and_exit_2(
    argv: list[str], message: str, series_csv: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:01,oops\n")
    fill = {"{csv}": str(series_csv[0]), "{bad}": str(bad)}
    args = [fill.get(a, a).replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = _run(capsys, *args, "--no-output")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err


def test_debug_shows_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataError, match=r"not found: missing\.csv"):
        main(["detect", "missing.csv", "--debug"])
    with pytest.raises(DataError, match=r"not found: missing\.csv"):
        main(["--debug", "detect", "missing.csv"])


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "detect", "x.csv", "--window-size", "many")
    assert code == 2 and "invalid int value" in err
    code, _, err = _run(capsys)
    assert code == 2 and "choose a command" in err
    code, _, err = _run(capsys, "nab")
    assert code == 2 and "choose an action" in err


def test_help_is_useful(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for text in ("detect", "detectors", "nab", "sagemaker", "examples:",
                 "anomark detect nab:realKnownCause/nyc_taxi.csv"):
        assert text in out
    code, out, _ = _run(capsys, "detect", "--help")
    assert code == 0
    for text in ("--threshold", "mean_std:3", "--window-size", "--labels", "--no-clobber",
                 "--dayfirst", "--time-format", "'%d/%m/%Y %H:%M'", "--duplicates",
                 "{error,mean,first,last}", "top 1 %", "nab:<name>", "examples:"):
        assert text in out, text
    code, out, _ = _run(capsys, "sagemaker", "cleanup", "--help")
    assert code == 0 and "--prefix" in out and "--yes" in out
    code, out, _ = _run(capsys, "benchmark", "nab", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "(default: 1)" in flat and "(default: nab-benchmark)" in flat
    assert "the first 15 %," in flat


@pytest.mark.parametrize("command", [[], ["detect"], ["detectors"], ["nab"], ["nab", "list"],
                                     ["benchmark"], ["benchmark", "nab"], ["sagemaker"],
                                     ["sagemaker", "cleanup"]])
def test_help_texts_show_no_escaped_percent(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *command, "--help")
    assert code == 0 and out.startswith("usage: anomark")
    assert "%%" not in out and "%(" not in out


def test_python_m_anomark_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "anomark", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: anomark")


# ---------------------------------------------------------------------- other commands
def test_detectors_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    from anomark.detectors import available_detectors

    code, out, _ = _run(capsys, "detectors")
    assert code == 0
    names = [line.split()[0].lstrip("*") for line in out.splitlines()[: len(available_detectors())]]
    assert names == list(available_detectors())
    iforest = next(line for line in out.splitlines() if line.lstrip(" *").startswith("iforest"))
    assert iforest.split()[1:4] == ["IsolationForestDetector", "window_size", "Isolation"]
    default = "rcf" if "rcf" in available_detectors() else "iforest"
    assert f"*{default}" in out


def test_nab_list(nab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "nab", "list")
    assert code == 0
    names = out.split()
    assert TAXI in names and len(names) == 58
    code, out, _ = _run(capsys, "nab", "list", "--windows", "--labelled")
    assert code == 0
    taxi = next(line for line in out.splitlines() if line.startswith(TAXI))
    assert taxi.split()[-2:] == ["5", "windows"]
    assert "artificialNoAnomaly" not in out


def test_sagemaker_cleanup_arguments_and_confirmation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import anomark.sagemaker

    calls: list[tuple[str, dict]] = []

    def fake_cleanup(prefix: str, session: object = None, region: str | None = None,
                     dry_run: bool = False, *, bucket: str | None = None,
                     s3_prefix: str | None = None, require_tag: bool = True) -> list[str]:
        calls.append((prefix, {"region": region, "dry_run": dry_run, "bucket": bucket,
                               "require_tag": require_tag}))
        return ["endpoint/anomark-demo-ep"]

    monkeypatch.setattr(anomark.sagemaker, "cleanup", fake_cleanup)
    code, out, _ = _run(capsys, "sagemaker", "cleanup", "--prefix", "anomark-demo",
                        "--region", "eu-west-1", "--yes")
    assert code == 0
    assert calls == [("anomark-demo", {"region": "eu-west-1", "dry_run": False, "bucket": None,
                                       "require_tag": True})]
    assert "deleted: 1 resource(s)" in out and "endpoint/anomark-demo-ep" in out

    calls.clear()  # without --yes and without a terminal: list, then refuse
    monkeypatch.setattr(sys, "stdin", open(__file__))  # noqa: SIM115 - not a TTY
    code, out, err = _run(capsys, "sagemaker", "cleanup", "--prefix", "anomark-demo")
    sys.stdin.close()
    assert code == 2 and "pass --yes" in err
    assert [c[1]["dry_run"] for c in calls] == [True]
    assert "would delete" in out

    calls.clear()
    code, out, _ = _run(capsys, "sagemaker", "cleanup", "--prefix", "p", "--dry-run",
                        "--include-untagged")
    assert code == 0 and calls == [("p", {"region": None, "dry_run": True, "bucket": None,
                                           "require_tag": False})]
    code, _, err = _run(capsys, "sagemaker", "cleanup", "--prefix", "p", "--bucket", "b")
    assert code == 2 and "--s3-prefix" in err


def test_sagemaker_cleanup_against_moto(aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "sagemaker", "cleanup", "--prefix", "anomark-none",
                          "--region", "us-east-1", "--yes")
    assert code == 0, err
    assert out == "deleted: nothing\n"


# ---------------------------------------------------------------------- helpers
@pytest.mark.parametrize(
    "spec, expected",
    [
        ("mean_std:3", Threshold.mean_std(3)),
        ("mean-std=2.5", Threshold.mean_std(2.5)),
        ("quantile:0.999", Threshold.quantile(0.999)),
        ("contamination:0.01", Threshold.contamination(0.01)),
        ("mad", Threshold.mad()),
        ("fixed:1.5", Threshold.fixed(1.5)),
    ],
)
def test_parse_threshold(spec: str, expected: Threshold) -> None:
    assert Threshold.parse(spec) == expected


def test_parse_param_reads_json_literals() -> None:
    assert parse_param("n=3") == ("n", 3)
    assert parse_param("x=0.5") == ("x", 0.5)
    assert parse_param("flag=true") == ("flag", True)
    assert parse_param("s=auto") == ("s", "auto")
    assert parse_param("l=[1, 2]") == ("l", [1, 2])
    with pytest.raises(ConfigurationError, match="KEY=VALUE"):
        parse_param("novalue")


def test_anomalies_csv_numbers_events() -> None:
    from anomark.detection import Detection

    index = pd.date_range("2024-01-01", periods=8, freq="h")
    scores = pd.Series([0, 5, 6, 0, 0, 7, 0, 8], index=index, dtype=float)
    det = Detection(scores, 1.0)
    table = pd.read_csv(pd.io.common.StringIO(anomalies_csv(det).decode()))
    assert table["event"].tolist() == [1, 1, 2, 3]
    np.testing.assert_array_equal(table["score"], [5, 6, 7, 8])


def test_detect_s3_prefix(
    aws_env: str, series_csv: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="anomark-cli")
    frame = pd.read_csv(series_csv[0])
    for i, part in enumerate((frame.iloc[:700], frame.iloc[700:])):
        s3.put_object(Bucket="anomark-cli", Key=f"raw/part{i}.csv",
                      Body=part.to_csv(index=False).encode())
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "detect", "s3://anomark-cli/raw/", "--detector", "iforest")
    assert code == 0, err
    assert "source:    s3://anomark-cli/raw/ (1500 rows x 1 column" in out
    assert (tmp_path / "raw_anomalies.csv").exists()


# ---------------------------------------------------------------------- issue 14 (first hour)
def _readme_detect_command() -> list[str]:
    """The README's main job, as the arguments after ``anomark``."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if "&& anomark detect " in ln)
    return shlex.split(line.split("&& anomark ", 1)[1])


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """No ANOMARK_NAB_DIR, an empty cache, and every socket connection refused (recorded)."""
    import socket

    monkeypatch.delenv("ANOMARK_NAB_DIR", raising=False)
    monkeypatch.setenv("ANOMARK_CACHE_DIR", str(tmp_path / "cache"))
    attempts: list[tuple] = []

    def refuse(self: socket.socket, address: object, *args: object) -> None:
        attempts.append((self.family, address))
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_readme_main_job_runs_twice_offline(
    offline: list[tuple], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = _readme_detect_command()
    assert argv[:2] == ["detect", f"nab:{TAXI}"] and "--plot" in argv
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, first, err = _run(capsys, *argv)
    assert code == 0, err
    csv, png = work / "nyc_taxi_anomalies.csv", work / argv[argv.index("--plot") + 1]
    assert csv.exists() and png.stat().st_size > 20_000
    assert "labelled windows: 5" in first
    code, second, err = _run(capsys, *argv)  # the same command again replaces its outputs
    assert code == 0, err
    assert second == first
    assert sorted(p.name for p in work.iterdir()) == sorted([csv.name, png.name])
    assert offline == [] and not (tmp_path / "cache").exists()  # no network, nothing cached


def test_day_first_dates_are_refused_until_the_order_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = pd.date_range("2024-01-01", periods=24 * 20, freq="h")
    values = 10 + np.sin(np.arange(len(index)) * 2 * np.pi / 24)
    spike = (index >= "2024-01-09 12:00") & (index < "2024-01-09 15:00")
    values[spike] += 25  # a spike on 9 January, which month-first reading puts on 1 September
    path = tmp_path / "export.csv"
    pd.DataFrame({"time": index.strftime("%d/%m/%Y %H:%M"), "value": values}).to_csv(
        path, index=False)
    base = ["detect", path, "--detector", "iforest", "--window-size", 6, "--threshold",
            "fixed:0.7", "--no-output"]
    code, out, err = _run(capsys, *base)
    assert code == 2 and out == ""
    assert "day first" in err and "--dayfirst" in err and "--time-format" in err
    for extra in (["--dayfirst"], ["--time-format", "%d/%m/%Y %H:%M"]):
        code, out, err = _run(capsys, *base, *extra)
        assert code == 0, err
        assert "2024-01-01 00:00:00 .. 2024-01-20 23:00:00" in out
        peaks = [ln.split()[6] for ln in out.splitlines() if ln[:3].strip().isdigit()]
        assert peaks and set(peaks) == {"2024-01-09"}, out
        assert "2024-09-01" not in out


def test_irregular_sampling_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = pd.date_range("2024-01-01", periods=300, freq="10min")
    index = index[np.arange(300) % 7 != 3]  # a missing sample every 70 minutes
    path = tmp_path / "gappy.csv"
    pd.DataFrame({"value": np.sin(np.arange(len(index)))}, index=index).rename_axis(
        "timestamp").to_csv(path)
    code, _, err = _run(capsys, "detect", path, "--detector", "iforest", "--no-output")
    assert code == 0
    assert "warning: gappy.csv: irregular sampling" in err and "usual 10min" in err
    code, _, err = _run(capsys, "detect", path, "--detector", "iforest", "--no-output",
                        "--resample", "10min", "--fill", "interpolate")
    assert code == 0 and "irregular" not in err


NAB_DUPLICATES = "realKnownCause/ec2_request_latency_system_failure.csv"


def _nab_file_with_repeated_timestamps(nab_root: Path | None, target: Path) -> Path:
    """A raw NAB file whose daylight-saving change repeats ``2014-03-09 03:00:00``: the real
    one when the corpus is at hand, else one written the same way."""
    if nab_root is not None:
        target.write_bytes((nab_root / "data" / NAB_DUPLICATES).read_bytes())
        return target
    index = pd.date_range("2014-03-07", periods=1000, freq="5min")
    stamps = [str(t) for t in index]
    at = stamps.index("2014-03-09 03:00:00")
    stamps[at + 1 : at + 12] = [stamps[at]] * 11
    pd.DataFrame({"timestamp": stamps, "value": np.arange(1000.0) % 37}).to_csv(
        target, index=False)
    return target


@pytest.mark.parametrize("corpus", [False, True], ids=["written", "nab"])
def test_raw_nab_file_with_repeated_timestamps(
    corpus: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = None
    if corpus:
        nab_env = os.environ.get("ANOMARK_NAB_DIR")
        if not nab_env or not Path(nab_env).is_dir():
            pytest.skip("NAB corpus not available (set ANOMARK_NAB_DIR)")
        root = Path(nab_env)
    path = _nab_file_with_repeated_timestamps(root, tmp_path / "latency.csv")
    base = ["detect", path, "--detector", "iforest", "--no-output"]
    code, out, err = _run(capsys, *base)
    assert code == 2 and out == ""
    assert "11 duplicate timestamp(s), first 2014-03-09 03:00:00" in err
    assert "--duplicates mean|first|last" in err
    rows = len(pd.read_csv(path)) - 11
    for policy in ("mean", "first", "last"):
        code, out, err = _run(capsys, *base, "--duplicates", policy)
        assert code == 0, err
        assert f"({rows} rows x 1 column" in out
    code, _, err = _run(capsys, *base, "--duplicates", "average")
    assert code == 2 and "invalid choice: 'average'" in err


def test_native_log_lines_are_filtered_unless_verbose(capfd: pytest.CaptureFixture[str]) -> None:
    from anomark.cli._common import filter_native_logs

    noise = (
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        b"I0000 00:00:1796069963.280522   24758 cudart_stub.cc:31] Could not find cuda drivers\n"
        b"E0000 00:00:1796069967.572445   24758 cuda_platform.cc:52] failed call to cuInit\n"
    )
    with filter_native_logs(True):
        os.write(2, noise + b"a real message from C code\n")
        print("python stderr", file=sys.stderr)
    err = capfd.readouterr().err
    assert "cuInit" not in err and "absl" not in err and "cudart" not in err
    assert "a real message from C code" in err and "python stderr" in err
    with filter_native_logs(False):
        os.write(2, noise)
    assert "cuInit" in capfd.readouterr().err


@pytest.mark.slow  # a fresh interpreter imports TensorFlow (the noise comes at import)
@pytest.mark.tensorflow
def test_autoencoder_shows_epochs_and_no_tensorflow_noise(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    ds, _ = periodic_series(n=400, seed=3)
    path = tmp_path / "series.csv"
    ds.frame.to_csv(path)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "anomark", "detect", str(path), "--detector", "conv-ae",
         "--window-size", "8", "--param", "epochs=2", "--param", "batch_size=64",
         "--no-output"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("source:") and "Epoch" not in proc.stdout
    assert "verbose" not in proc.stdout  # the CLI's own setting is not reported as a parameter
    assert "Epoch 1/2" in proc.stderr and "Epoch 2/2" in proc.stderr and "loss" in proc.stderr
    for noise in ("cuInit", "absl::InitializeLog", "cudart_stub", "oneDNN custom operations"):
        assert noise not in proc.stderr, proc.stderr


def test_benchmark_on_a_subset_says_it_is_not_comparable(
    nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from matplotlib.figure import Figure

    drawn: list[Figure] = []
    savefig = Figure.savefig

    def keep(fig: Figure, *args: object, **kwargs: object) -> None:
        drawn.append(fig)
        savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    code, out, err = _run(
        capsys, "benchmark", "nab", "--detectors", "iforest", "--series", TAXI,
        "--cache-dir", tmp_path / "cache", "--output-dir", tmp_path / "out",
    )
    assert code == 0, err
    assert "\r" not in err  # no progress bar on a stderr that is not a terminal
    assert "wrote" in out
    (ax,) = drawn[-1].axes
    assert "NOT" in ax.get_title() and "1 of 58 series" in ax.get_title()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(lb.startswith("anomark iforest") and "NOT comparable" in lb for lb in labels)


def test_detectors_listing_read_from_the_sources_equals_the_registry() -> None:
    from anomark.cli.detectors import Entry, _from_sources, catalogue
    from anomark.detectors import available_detectors

    registry = [
        Entry(name, cls.__name__, cls.window_param, (cls.__doc__ or "").strip().splitlines()[0])
        for name, cls in available_detectors().items()
    ]
    assert _from_sources() == registry == catalogue()


@pytest.mark.parametrize("argv", [["--help"], ["detect", "--help"], ["detectors"]])
def test_quick_commands_import_no_heavy_module(argv: list[str]) -> None:
    """``anomark --help`` and ``anomark detectors`` stay fast: they import neither pandas,
    numpy, scikit-learn, numba, matplotlib nor TensorFlow (measured: about 0.1 s)."""
    code = (
        "import sys, json\n"
        "from anomark.cli import main\n"
        f"code = main({argv!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy', 'sklearn',"
        " 'numba', 'matplotlib', 'tensorflow', 'scipy', 'boto3'})\n"
        "print(json.dumps([code, heavy]), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == [0, []], proc.stderr
