"""``anomark stream``: rows from a pipe, bad rows, checkpoints, resuming, Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Detector, RCFDetector
from anomark.cli import main

OPTIONS = ["--window-size", "6", "--param", "num_samples_per_tree=32", "--param",
           "num_trees=50"]


def _csv_lines(n: int = 700) -> list[str]:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    value = np.sin(2 * np.pi * t / 24) + 0.05 * rng.normal(size=n)
    value[500:503] += 4.0
    stamps = pd.date_range("2024-03-01", periods=n, freq="h")
    return ["timestamp,value"] + [
        f"{s:%Y-%m-%d %H:%M:%S},{v:.6f}" for s, v in zip(stamps, value, strict=True)
    ]


def _run(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["stream", "-", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_stream_from_stdin_matches_score_update(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _csv_lines()
    code, out, _ = _run(OPTIONS, "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0
    assert out[0] == "time,score,threshold,flag,located_at"
    assert len(out) == len(lines)  # header + one line per row
    frame = pd.read_csv(io.StringIO("\n".join(lines)), parse_dates=["timestamp"],
                        index_col="timestamp")
    det = RCFDetector(shingle_size=6, num_samples_per_tree=32, num_trees=50, random_state=0)
    expected = det.detect_update(frame)
    got = pd.read_csv(io.StringIO("\n".join(out)), parse_dates=["time", "located_at"])
    np.testing.assert_allclose(got["score"], expected.scores.to_numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["flag"].to_numpy(), expected.flags.to_numpy().astype(int))
    flagged = got[got["flag"] == 1]
    assert len(flagged) and flagged["time"].between("2024-03-21 20:00", "2024-03-22 06:00").any()
    spike = pd.Timestamp("2024-03-21 20:00")  # row 500
    near = flagged[flagged["time"].between(spike, spike + pd.Timedelta("6h"))]
    assert (abs(near["located_at"] - spike) <= pd.Timedelta("2h")).all()
    _, alerts, _ = _run([*OPTIONS, "--alerts-only"], "\n".join(lines) + "\n", monkeypatch, capsys)
    assert alerts[1:] == [line for line in out[1:] if line.split(",")[3] == "1"]


@pytest.mark.parametrize("policy", ["skip", "stop"])
def test_bad_rows_are_reported_with_their_line(
    policy: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _csv_lines(300)
    lines.insert(101, "2024-03-05 04:00:00,not-a-number")  # line 102 of the input
    lines.insert(151, "2024-03-01 00:30:00,1.0")  # time going backwards: line 152
    lines.insert(201, "2024-03-09 10:00:00,1.0,2.0")  # three fields: line 202
    code, out, err = _run([*OPTIONS, "--on-bad-row", policy], "\n".join(lines) + "\n",
                          monkeypatch, capsys)
    if policy == "skip":
        assert code == 0
        assert len(out) == 1 + 300
        assert "line 102: value='not-a-number' is not a number (skipped)" in err
        assert "line 152: time 2024-03-01 00:30:00 is not after" in err
        assert "line 202: 3 fields, the header has 2" in err
    else:
        assert code == 2
        assert len(out) == 1 + 100  # the rows before the bad one were scored
        assert "error: line 102: value='not-a-number' is not a number" in err


def test_a_byte_order_mark_is_not_part_of_the_time_column(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = "\n".join(_csv_lines(120)) + "\n"
    code, plain, _ = _run(OPTIONS, text, monkeypatch, capsys)
    assert code == 0
    code, marked, err = _run(OPTIONS, "\ufeff" + text, monkeypatch, capsys)  # piped
    assert code == 0, err
    assert marked == plain
    saved = tmp_path / "excel.csv"  # a file saved as "UTF-8 with BOM"
    saved.write_text(text, encoding="utf-8-sig")
    assert main(["stream", str(saved), *OPTIONS]) == 0
    assert capsys.readouterr().out.splitlines() == plain


def test_utc_offsets_that_change_keep_the_first_rows_offset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # local times written with their offset, across the change to summer time (+01:00 to
    # +02:00): it used to crash inside pandas building the frame
    stamps = pd.date_range("2024-03-30", periods=120, freq="30min", tz="Europe/Berlin")
    value = np.sin(np.arange(120) / 8)
    lines = ["time,value"] + [f"{s.isoformat()},{v:.5f}" for s, v in zip(stamps, value,
                                                                         strict=True)]
    assert lines[1].endswith("+01:00,0.00000") and "+02:00" in lines[-1]
    code, out, err = _run(OPTIONS, "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0, err
    printed = pd.DatetimeIndex([pd.Timestamp(line.split(",")[0]) for line in out[1:]])
    assert all(line.split(",")[0].endswith("+01:00") for line in out[1:])
    assert printed.equals(stamps.tz_convert(printed.tz))  # the same instants
    # a row without an offset among rows with one (and the other way round) is a bad row
    mixed = [*lines[:11], "2024-03-30 05:15:00,0.5", *lines[11:]]
    code, out, err = _run([*OPTIONS, "--on-bad-row", "skip"], "\n".join(mixed) + "\n",
                          monkeypatch, capsys)
    assert code == 0 and len(out) == len(lines)
    assert ("warning: line 12: the time '2024-03-30 05:15:00' has no UTC offset, the earlier "
            "rows had one (skipped)") in err
    # a checkpoint keeps its zone: rows without offsets do not continue a stream with them
    state = tmp_path / "state"
    assert _run([*OPTIONS, "--state", str(state)], "\n".join(lines[:61]) + "\n",
                monkeypatch, capsys)[0] == 0
    naive = ["time,value", *(f"2024-04-02 {h:02d}:00:00,0.1" for h in range(5))]
    code, out, err = _run([*OPTIONS, "--state", str(state)], "\n".join(naive) + "\n",
                          monkeypatch, capsys)
    assert code == 2 and len(out) == 1
    assert ("error: line 2: the time '2024-04-02 00:00:00' has no UTC offset, the earlier "
            "rows had one") in err
    code, out, err = _run([*OPTIONS, "--state", str(state)], "\n".join(lines) + "\n",
                          monkeypatch, capsys)
    assert code == 0 and len(out) == 1 + 60 and "skipped 60 row(s)" in err


def test_a_stream_that_ends_before_its_threshold_is_warm_says_why_nothing_was_flagged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _csv_lines(700)
    code, out, err = _run(OPTIONS, "\n".join(lines[:13]) + "\n", monkeypatch, capsys)
    assert code == 0 and len(out) == 13  # 7 shingles: the forest scores from the 9th
    assert ("warning: after 12 row(s) the online threshold is still warming up, so no row "
            "could be flagged: the running threshold starts once the forest has scored 9 "
            "rows") in err
    code, out, err = _run([*OPTIONS, "--threshold", "spot:0.001"], "\n".join(lines) + "\n",
                          monkeypatch, capsys)
    assert code == 0 and all(line.split(",")[3] == "0" for line in out[1:])
    assert ("warning: after 700 row(s) the online threshold is still warming up, so no row "
            "could be flagged: Threshold.spot calibrates itself on the first 1000 rows the "
            "forest scores (it scores once it has seen 9 shingles)") in err
    code, out, err = _run(OPTIONS, "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0 and "warming up" not in err  # warm: nothing to say


def test_post_processing_steps_are_given_in_their_text_form(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a running z-score then a fixed threshold (docs/online.md): --param postprocess=zscore
    # used to reach the detector as the string 'zscore' and be refused
    text = "\n".join(_csv_lines(700)) + "\n"
    args = [*OPTIONS, "--param", "postprocess=zscore", "--threshold", "fixed:4"]
    code, out, err = _run(args, text, monkeypatch, capsys)
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(text), parse_dates=["timestamp"], index_col="timestamp")
    from anomark import Threshold
    from anomark.postprocess import RunningZScore

    det = RCFDetector(shingle_size=6, num_samples_per_tree=32, num_trees=50, random_state=0,
                      postprocess=[RunningZScore()], threshold=Threshold.fixed(4.0))
    expected = det.detect_update(frame)
    got = pd.read_csv(io.StringIO("\n".join(out)), parse_dates=["time"])
    np.testing.assert_array_equal(got["flag"].to_numpy(), expected.flags.to_numpy().astype(int))
    assert got.loc[got["flag"] == 1, "time"].between("2024-03-21 20:00", "2024-03-22 06:00").any()
    code, _, err = _run([*OPTIONS, "--param", "postprocess=zscor"], text, monkeypatch, capsys)
    assert code == 2 and "error: unknown post-processor 'zscor' in 'zscor'" in err


def test_a_closed_output_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    # `anomark stream ... | consumer` whose consumer dies: the rows whose lines could not be
    # written were checkpointed as learned, so a restart skipped them and their alerts were
    # never shown. The last checkpoint is kept instead (a restart scores the rows after it).
    src = tmp_path / "feed.csv"
    # 3,000 rows print about 130 kB, more than a pipe holds: the writer must meet the close
    src.write_text("\n".join(_csv_lines(3000)) + "\n")
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "anomark", "stream", str(src), *OPTIONS, "--state", str(state),
         "--batch", "50", "--checkpoint-every", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = [proc.stdout.readline() for _ in range(160)]
    proc.stdout.close()  # the consumer goes away after 160 lines
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert first[0].startswith("time,score") and proc.returncode == 2
    done = int(err.split("broken pipe) after ")[1].split(" row(s)")[0])
    assert ("keeps its last checkpoint, so a restart scores the rows after it again" in err
            and "Traceback" not in err and "Exception ignored" not in err), err
    saved = Detector.load(state)
    assert isinstance(saved, RCFDetector)
    # the checkpoint holds only rows whose lines were written: at most what was done
    learned = (saved.last_seen_ - pd.Timestamp("2024-03-01")) // pd.Timedelta("1h") + 1
    assert 100 <= learned <= done < 3000


def test_headers_of_concatenated_files_are_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `cat day1.csv day2.csv | anomark stream -` (daily files, as the ocean sensors write
    # them): the second header used to stop the stream as a bad row
    lines = _csv_lines(300)
    whole = "\n".join(lines) + "\n"
    joined = "\n".join([*lines[:101], lines[0], *lines[101:201], " " + lines[0],
                         *lines[201:]]) + "\n"
    code, expected, _ = _run(OPTIONS, whole, monkeypatch, capsys)
    assert code == 0
    code, out, err = _run(OPTIONS, joined, monkeypatch, capsys)
    assert code == 0 and out == expected
    assert "warning: skipped 2 repeated header line(s) (CSV files joined one after another)" in err


def test_epoch_numbers_are_not_taken_for_times(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "ts,value\n1706745600,1.0\n1706745660,2.0\n"
    code, out, err = _run(OPTIONS, text, monkeypatch, capsys)
    assert code == 2 and len(out) == 1
    assert err.strip() == ("error: line 2: the time '1706745600' is a number; numbers are not "
                           "read as epoch times, their unit being ambiguous: write the times "
                           "as dates")


def _dated_lines(start: str, fmt: str, n: int = 200) -> tuple[list[str], list[str]]:
    """CSV lines with times written ``fmt`` and the ISO times the stream should print."""
    stamps = pd.date_range(start, periods=n, freq="h")
    value = np.sin(2 * np.pi * np.arange(n) / 24)
    lines = ["timestamp,value"] + [f"{s:{fmt}},{v:.6f}" for s, v in zip(stamps, value,
                                                                          strict=True)]
    return lines, [s.isoformat() for s in stamps]


def test_day_and_month_are_read_in_the_order_the_rows_show(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def times(out: list[str]) -> list[str]:
        return [line.split(",")[0] for line in out[1:]]

    # 01/03/2024 reads as 1 March or 3 January: nothing before it tells, so the stream stops
    # rather than guess (it used to read month first, then fail 12 days later at 13/03)
    lines, iso = _dated_lines("2024-03-01", "%d/%m/%Y %H:%M")
    text = "\n".join(lines) + "\n"
    code, out, err = _run(OPTIONS, text, monkeypatch, capsys)
    assert code == 2 and out == ["time,score,threshold,flag,located_at"]
    assert err.strip() == (
        "error: line 2: day and month are ambiguous in the time '01/03/2024 00:00' and no "
        "earlier row showed their order (a stream cannot wait for later rows to tell); pass "
        "--dayfirst or --time-format, e.g. --time-format '%d/%m/%Y %H:%M' for day first"
    )
    for extra in (["--dayfirst"], ["--time-format", "%d/%m/%Y %H:%M"]):
        code, out, err = _run([*OPTIONS, *extra], text, monkeypatch, capsys)
        assert code == 0, err
        assert times(out) == iso
    # a first row that reads one way only fixes the order for the ambiguous ones after it
    for start, fmt in (("2024-03-25", "%d/%m/%Y %H:%M"), ("2024-03-25", "%m/%d/%Y %H:%M"),
                       ("2024-03-25", "%d.%m.%y %H:%M")):
        lines, iso = _dated_lines(start, fmt)  # 25 March .. 2 April: 01/04 after 31/03
        code, out, err = _run(OPTIONS, "\n".join(lines) + "\n", monkeypatch, capsys)
        assert code == 0, err
        assert times(out) == iso and "warning" not in err
    # a row that contradicts the order shown is a bad row (named), skipped or stopping
    lines, iso = _dated_lines("2024-03-25", "%d/%m/%Y %H:%M")
    lines.insert(11, "03/26/2024 09:30,0.5")
    code, out, err = _run([*OPTIONS, "--on-bad-row", "skip"], "\n".join(lines) + "\n",
                          monkeypatch, capsys)
    assert code == 0 and times(out) == iso
    assert ("warning: line 12: the time '03/26/2024 09:30' can only be read month first, the "
            "earlier rows were read day first (as line 2 showed) (skipped)") in err
    # --dayfirst refuses a row that cannot be read day first
    lines, iso = _dated_lines("2024-03-25", "%m/%d/%Y %H:%M", n=30)
    code, out, err = _run([*OPTIONS, "--dayfirst"], "\n".join(lines) + "\n", monkeypatch,
                          capsys)
    assert code == 2 and len(out) == 1
    assert "error: line 2: the time '03/25/2024 00:00' cannot be read day first" in err


def test_restart_from_a_checkpoint_resumes_without_rescoring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _csv_lines(500)
    state = tmp_path / "state"
    whole_code, whole, _ = _run(OPTIONS, "\n".join(lines) + "\n", monkeypatch, capsys)
    assert whole_code == 0
    args = [*OPTIONS, "--state", str(state), "--checkpoint-every", "50"]
    code, first, _ = _run(args, "\n".join(lines[:301]) + "\n", monkeypatch, capsys)
    assert code == 0 and len(first) == 1 + 300
    saved = Detector.load(state)
    assert isinstance(saved, RCFDetector)
    assert saved.last_seen_ == pd.Timestamp(lines[300].split(",")[0])
    # the restart reads the whole file again: the first 300 rows are skipped, not rescored
    code, second, err = _run(args, "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0
    assert "skipped 300 row(s)" in err
    assert first[1:] + second[1:] == whole[1:]


def test_state_folder_is_checked_before_any_row_and_may_be_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "\n".join(_csv_lines(120)) + "\n"
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    code, out, err = _run([*OPTIONS, "--state", str(precious)], lines, monkeypatch, capsys)
    assert code == 2 and out == []  # refused before the header, not after scoring every row
    assert f"error: {precious} exists and is not a saved anomark detector" in err
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"  # e.g. made with mkdir beforehand: nothing in it to lose
    empty.mkdir()
    code, out, err = _run([*OPTIONS, "--state", str(empty)], lines, monkeypatch, capsys)
    assert code == 0, err
    assert len(out) == 1 + 120
    assert Detector.load(empty).last_seen_ == pd.Timestamp(lines.splitlines()[-1].split(",")[0])


@pytest.mark.parametrize(
    ("signum", "status", "said"),
    [(signal.SIGINT, 130, "interrupted"),
     # kill, docker stop, systemctl stop: it used to end the process without a checkpoint
     (signal.SIGTERM, 143, "terminated (SIGTERM)")],
)
def test_ctrl_c_writes_a_final_checkpoint(
    tmp_path: Path, signum: signal.Signals, status: int, said: str
) -> None:
    lines = _csv_lines(400)
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "anomark", "stream", "-", *OPTIONS, "--state", str(state),
         "--checkpoint-every", "100000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join(lines[:251]) + "\n")  # header + 250 rows; the pipe stays open
    proc.stdin.flush()
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 120
    while len(printed) < 251 and time.monotonic() < deadline:  # every row printed
        time.sleep(0.2)
    assert len(printed) == 251
    proc.send_signal(signum)  # it is now waiting for more input, like tail -f
    proc.stdin.close()
    proc.wait(timeout=60)
    reader.join(timeout=10)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == status
    assert f"{said} after 250 row(s); checkpoint written to" in err
    det = Detector.load(state)
    assert det.last_seen_ == pd.Timestamp(lines[250].split(",")[0])


@pytest.mark.parametrize("policy", ["skip", "stop"])
def test_a_value_beyond_float32_is_a_bad_row_for_a_float32_detector(
    policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from anomark.detectors.rcf.forest import FLOAT32_MAX

    assert np.float32(FLOAT32_MAX) == np.finfo(np.float32).max
    lines = _csv_lines(300)
    lines[151] = lines[151].split(",")[0] + ",1e39"  # line 152; float64 holds it
    single = [*OPTIONS, "--param", "dtype=float32", "--on-bad-row", policy,
              "--state", str(tmp_path / "s")]
    code, out, err = _run(single, "\n".join(lines) + "\n", monkeypatch, capsys)
    message = "line 152: value='1e39' is beyond float32's range (the detector's dtype is float32)"
    if policy == "skip":
        # the rows around it are scored (it used to fail the whole batch it came in)
        assert code == 0 and len(out) == 1 + 299
        assert f"{message} (skipped)" in err
        # resumed from the checkpoint, the loaded detector's dtype sets the limit
        more = _csv_lines(320)[301:]
        more[5] = more[5].split(",")[0] + ",-1e40"
        code, out, err = _run([*OPTIONS, "--state", str(tmp_path / "s"), "--on-bad-row",
                               "skip"], "\n".join([lines[0], *more]) + "\n", monkeypatch, capsys)
        assert code == 0 and len(out) == 1 + 19  # 20 new rows, one refused
        assert "line 7: value='-1e40' is beyond float32's range" in err
    else:
        assert code == 2 and len(out) == 1 + 150
        assert f"error: {message}" in err
    code, out, _ = _run([*OPTIONS, "--on-bad-row", "stop"], "\n".join(lines) + "\n",
                        monkeypatch, capsys)
    assert code == 0 and len(out) == 1 + 300  # float64 (the default) takes it


@pytest.mark.parametrize("text", [
    "2015-09-01 11:30:00", "2015-09-01T11:30:00", "2015-09-01T11:30", "2015-09-01",
    "2015-09-01 11:30:00.25", "2015-09-01 11:30:00.123456", "2015-09-01T11:30:00+02:00",
    "2015-09-01T11:30:00-05:30", "2015-09-01T11:30:00Z",
])
def test_iso_times_are_read_as_pandas_reads_them(text: str) -> None:
    # the stream reads ISO 8601 times without pandas' per-row format inference (about 0.3 ms
    # a row, half of a file's replay); the instant, its UTC offset and its text are the same
    from anomark.cli.stream import _iso_time

    fast, slow = _iso_time(text), pd.to_datetime(text)
    if sys.version_info < (3, 11) and text.endswith("Z"):
        assert fast is None  # left to pandas
        return
    assert fast == slow and str(fast.tz) == str(slow.tz) and fast.isoformat() == slow.isoformat()


@pytest.mark.parametrize("text", [
    "01/02/2015 11:30", "2015/09/01 11:30", "20150901", "1441099800", "2015-13-01 11:30:00",
    "2015-09-01 25:00", "2015-09-01 11:30:00 UTC", "Sep 1 2015", "2015-09-01T11:30:00.1234567",
])
def test_other_times_are_left_to_pandas(text: str) -> None:
    from anomark.cli.stream import _iso_time

    assert _iso_time(text) is None
