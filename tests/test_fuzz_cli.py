"""Property-based fuzzing of the ``anomark detect`` command, run in-process through ``main``.

Generated CSV files (good, empty, with a BOM, bad lines, text or missing values, too short)
are combined with generated options (thresholds, ``--param``, window sizes, columns, resampling,
fill, labels files, ``--train-until``, time formats and ``--duplicates``, ``--load`` of damaged
folders). ``main`` must return 0 with
consistent results (the anomalies CSV holds exactly the flagged points, all above the printed
threshold) or 2 with one ``error: ...`` line naming a problem the input actually has. An
exception escaping ``main`` (anything but an anomark error is re-raised only under ``--debug``)
fails the test.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from anomark.cli import main

FUZZ = settings(
    max_examples=70,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: Regression tests of the bugs fixed in issue 5 (each input class is small: few examples).
REGRESSION = settings(FUZZ, max_examples=5)

N_ROWS = 60


def _csv_text(kind: str) -> tuple[bytes, list[str]]:
    """CSV content of a kind, and the words an error about it must contain."""
    idx = pd.date_range("2024-01-01", periods=N_ROWS, freq="5min")
    rng = np.random.default_rng(3)
    values = np.sin(np.arange(N_ROWS) / 4.0) + rng.normal(0, 0.05, N_ROWS)
    values[40] += 4.0
    frame = pd.DataFrame({"value": values, "other": np.cos(np.arange(N_ROWS) / 7.0)}, index=idx)
    frame.index.name = "timestamp"
    good = frame.to_csv().encode()
    if kind == "good":
        return good, []
    if kind == "constant":
        constant = pd.DataFrame({"value": 1.0}, index=idx).rename_axis("timestamp")
        return constant.to_csv().encode(), []
    if kind == "bom":
        return b"\xef\xbb\xbf" + good, []
    if kind == "empty":
        return b"", ["empty"]
    if kind == "header_only":
        return b"timestamp,value,other\n", ["no rows"]
    if kind == "bad_line":
        lines = good.split(b"\n")
        lines.insert(10, b"2024-01-01 00:47:00,1,2,3,4")
        return b"\n".join(lines), ["malformed", "timestamp"]
    if kind == "text_value":
        return good.replace(b"\n2024-01-01 00:15:00,", b"\n2024-01-01 00:15:00,oops", 1), [
            "not numeric"
        ]
    if kind == "missing_values":
        text = good.decode().splitlines()
        text[5] = text[5].split(",")[0] + ",,0.5"
        return ("\n".join(text) + "\n").encode(), ["missing values", "--fill"]
    if kind == "few_rows":
        return b"timestamp,value\n2024-01-01 00:00,1\n", ["at least 2 rows", "empty",
                                                          "not found", "larger than"]
    if kind == "no_time":
        return b"a,b\n1,2\n3,4\n", ["no time column"]
    raise AssertionError(kind)


CSV_KINDS = ["good", "good", "good", "constant", "bom", "empty", "header_only", "bad_line",
             "text_value", "missing_values", "few_rows", "no_time"]

#: (arguments, words an error about them must contain; [] = valid)
OPTIONS: dict[str, list[tuple[list[str], list[str]]]] = {
    "threshold": [
        ([], []), (["--threshold", "mean_std:3"], []), (["--threshold", "quantile:0.9"], []),
        (["--threshold", "mad"], []), (["--threshold", "fixed:0.6"], []),
        (["--threshold", "contamination=0.05"], []),
        (["--threshold", "quantile:2"], ["q must be in"]),
        (["--threshold", "mad:-1"], ["k must be >= 0"]),
        (["--threshold", "fixed:abc"], ["must be a number"]),
        (["--threshold", "fixed:1e400"], ["finite"]), (["--threshold", "fixed:nan"], ["finite"]),
        (["--threshold", "bogus"], ["unknown threshold"]),
        (["--threshold", ""], ["unknown threshold"]),
    ],
    "param": [
        ([], []), (["--param", "n_estimators=7"], []),
        (["--param", "n_estimators=-1"], ["n_estimators"]),
        (["--param", "n_estimators=abc"], ["n_estimators"]),
        (["--param", "n_estimators=2.5"], ["n_estimators"]),
        (["--param", "bogus=1"], ["no parameter 'bogus'"]),
        (["--param", "noequals"], ["key=value"]),
        (["--param", "threshold=3"], ["--threshold"]),
        (["--param", "max_samples=\"lots\""], ["max_samples"]),
    ],
    "window": [
        ([], []), (["--window-size", "1"], []), (["--window-size", "5"], []),
        (["--window-size", "0"], ["window_size"]), (["--window-size", "-4"], ["window_size"]),
        (["--window-size", "100000"], ["window", "rows", "larger"]),
        (["--window-size", "x"], ["invalid int value"]),
    ],
    "columns": [
        ([], []), (["--columns", "value"], []), (["--columns", "other,value"], []),
        (["--columns", "nope"], ["['nope'] not found"]), (["--columns", ","], ["no value columns"]),
    ],
    "resample": [
        ([], []), (["--resample", "10min"], []), (["--resample", "abc"], ["frequency"]),
    ],
    "fill": [
        ([], []), (["--fill", "interpolate"], []), (["--fill", "ffill"], []),
        (["--fill", "zero"], []), (["--fill", "drop"], []),
        (["--fill", "magic"], ["invalid choice"]),
    ],
    "train_until": [
        ([], []), (["--train-until", "2024-01-01 03:00"], []),
        (["--train-until", "garbage"], ["cannot parse"]),
        (["--train-until", "1999-01-01"], ["empty"]),
    ],
    "labels": [
        ([], []), (["--labels", "{labels_ok}"], []),
        (["--labels", "{labels_bad_json}"], ["not valid json"]),
        (["--labels", "{labels_not_pairs}"], ["not a [start, end] pair"]),
        (["--labels", "{labels_bad_time}"], ["bad timestamp"]),
        (["--labels", "{labels_reversed}"], ["ends before it starts"]),
        (["--labels", "{labels_missing}"], ["labels file not found"]),
    ],
    "max_events": [([], []), (["--max-events", "0"], []), (["--max-events", "-1"], [">= 0"])],
    "detector": [([], []), (["--detector", "nope"], ["unknown detector"])],
    "timestamps": [
        ([], []), (["--time-format", "%Y-%m-%d %H:%M:%S"], []), (["--time-format", "ISO8601"], []),
        (["--dayfirst"], []), (["--duplicates", "mean"], []), (["--duplicates", "error"], []),
        (["--time-format", "%d/%m/%Y %H:%M"], ["does not match", "cannot parse timestamps"]),
        (["--duplicates", "average"], ["invalid choice"]),
        (["--time-column", "when"], ["time column 'when' not found"]),
    ],
}
#: Problems whose error may be reported instead (they are checked first or late).
LABEL_FILES = {
    "labels_ok": json.dumps([["2024-01-01 03:10", "2024-01-01 03:30"]]),
    "labels_bad_json": "{[",
    "labels_not_pairs": json.dumps([["2024-01-01"]]),
    "labels_bad_time": json.dumps([["yesterday", "never"]]),
    "labels_reversed": json.dumps([["2024-01-01 04:00", "2024-01-01 03:00"]]),
}


def _flagged(out: str) -> int:
    return int(re.search(r"^flagged:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def _threshold(out: str) -> float:
    return float(re.search(r"^threshold: .* = (\S+)$", out, re.M).group(1))  # type: ignore[union-attr]


@st.composite
def invocations(draw: Any) -> dict[str, Any]:
    """Valid options everywhere except (usually) one focus group, which may be odd."""
    focus = draw(st.sampled_from(sorted(OPTIONS)))
    n_odd = draw(st.sampled_from([0, 1, 1, 2]))
    odd_groups = [focus, *draw(st.permutations(sorted(OPTIONS)))][:n_odd]
    chosen = {}
    for key, choices in OPTIONS.items():
        pool = choices if key in odd_groups else [c for c in choices if not c[1]]
        chosen[key] = draw(st.sampled_from(pool))
    csv = draw(st.sampled_from(["good"] * len(CSV_KINDS) + CSV_KINDS))
    return {"csv": csv, "options": chosen}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    out, err = capsys.readouterr()
    event(f"exit {code}")
    return code, out, err


@FUZZ
@given(inv=invocations())
def test_detect_command_fuzz(
    inv: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = tmp_path_factory.mktemp("cli")
    raw, csv_words = _csv_text(inv["csv"])
    source = tmp / "series.csv"
    source.write_bytes(raw)
    for name, text in LABEL_FILES.items():
        (tmp / f"{name}.json").write_text(text)
    output = tmp / "anomalies.csv"
    argv = ["detect", str(source), "-o", str(output), "-q"]
    words = list(csv_words)
    options = inv["options"]
    detector_args, _ = options["detector"]
    if not detector_args:
        argv += ["--detector", "iforest"]
        if not options["param"][0]:
            argv += ["--param", "n_estimators=5"]
    for args, option_words in options.values():
        argv += [a.replace("{", str(tmp) + "/").replace("}", ".json") if "{" in a else a
                 for a in args]
        words += option_words
    if inv["csv"] == "constant" and "other" in " ".join(options["columns"][0]):
        words += ["['other'] not found"]
    if inv["csv"] == "missing_values" and options["fill"][0] and not options["fill"][1]:
        words.remove("missing values")  # --fill repairs them
        words.remove("--fill")
    code, out, err = _run(argv, capsys)
    if code != 0:
        assert code == 2, (code, err)
        assert "Traceback" not in err
        assert words, f"refused a valid invocation {argv[1:]}: {err}"
        text = err.lower()
        assert any(w.lower() in text for w in words), f"{err!r} names none of {words}"
        return
    assert not words, f"exit 0 although the input has problems {words}: {argv}"
    flagged = _flagged(out)
    table = pd.read_csv(output, index_col=0)
    assert len(table) == flagged
    if flagged:
        assert (table["score"] > _threshold(out) - 1e-9 * abs(_threshold(out))).all()
    if inv["csv"] == "constant":
        assert flagged == 0 or options["threshold"][0] in (["--threshold", "fixed:0.6"],), out


@REGRESSION
@given(freq=st.sampled_from(["0min", "0h"]))
def test_detect_resample_zero_frequency(
    freq: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = tmp_path_factory.mktemp("cli0")
    source = tmp / "s.csv"
    source.write_bytes(_csv_text("good")[0])
    code, _, err = _run(["detect", str(source), "--no-output", "--detector", "iforest",
                         "--resample", freq], capsys)
    assert code == 2 and "frequency" in err


@settings(FUZZ, max_examples=30)
@given(damage=st.sampled_from(["zero_config", "zero_arrays", "truncate_config", "edit_type",
                               "future", "not_a_dir", "missing"]),
       threshold=st.sampled_from([[], ["--threshold", "quantile:0.95"]]))
def test_detect_load_damaged_folder_fuzz(
    damage: str, threshold: list[str], tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = tmp_path_factory.mktemp("load")
    source = tmp / "series.csv"
    source.write_bytes(_csv_text("good")[0])
    model = tmp / "model"
    code, _, err = _run(["detect", str(source), "--no-output", "--detector", "iforest",
                         "--param", "n_estimators=5", "--save", str(model), "-q"], capsys)
    assert code == 0, err
    config = model / "config.json"
    if damage == "zero_config":
        config.write_bytes(b"")
    elif damage == "zero_arrays":
        (model / "arrays.npz").write_bytes(b"")
    elif damage == "truncate_config":
        config.write_bytes(config.read_bytes()[:50])
    elif damage == "edit_type":
        cfg = json.loads(config.read_text())
        cfg["params"]["n_estimators"] = "five"
        config.write_text(json.dumps(cfg))
    elif damage == "future":
        cfg = json.loads(config.read_text())
        cfg["format_version"] = 99
        config.write_text(json.dumps(cfg))
    elif damage == "not_a_dir":
        model = source
    else:
        model = tmp / "nowhere"
    code, _out, err = _run(["detect", str(source), "--no-output", "--load", str(model),
                           *threshold], capsys)
    assert code == 2 and "Traceback" not in err, (code, err)
    words = {"zero_config": "not valid json", "zero_arrays": "sha256",
             "truncate_config": "not valid json", "edit_type": "n_estimators",
             "future": "upgrade", "not_a_dir": "not a folder", "missing": "not a folder"}
    assert words[damage] in err.lower(), err
