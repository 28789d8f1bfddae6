"""Several CSV files whose columns differ: through ``Dataset.from_csv`` and ``anomark detect``.

A file that lacks a column, has an extra one, or lists them in another order: the library raises
a :class:`DataError` naming the file and the columns (never a raw ``KeyError``), reorders columns
by name (values stay with their column), and with ``columns=`` / ``--columns`` needs only those.
The CLI reads globs through the same reader and answers with one clean ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset
from anomark.cli import main
from anomark.errors import DataError


def write(path: Path, start: str, n: int, columns: dict[str, float]) -> Path:
    """``n`` rows every 30 minutes from ``start``; column ``c`` holds ``base + row``."""
    index = pd.date_range(start, periods=n, freq="30min", name="timestamp")
    frame = pd.DataFrame({c: base + np.arange(n, dtype=float) for c, base in columns.items()},
                         index=index)
    frame.to_csv(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """a1.csv (x, y), then the second file per test."""
    write(tmp_path / "a1.csv", "2024-01-01", 200, {"x": 0.0, "y": 1000.0})
    return tmp_path


def test_second_file_lacks_a_column(files: Path) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"x": 0.0})
    with pytest.raises(DataError) as info:
        Dataset.from_csv(str(files / "a*.csv"))
    text = str(info.value)
    assert "a2.csv lacks column(s) ['y']" in text, text
    assert "a1.csv" in text and "columns=" in text


def test_first_file_lacks_a_column(files: Path) -> None:
    write(files / "a0.csv", "2023-12-20", 200, {"x": 0.0})  # sorts first: {x} then {x, y}
    with pytest.raises(DataError) as info:
        Dataset.from_csv(str(files / "a*.csv"))
    assert "a1.csv has extra column(s) ['y']" in str(info.value), str(info.value)


def test_second_file_has_an_extra_column(files: Path) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"x": 0.0, "y": 0.0, "z": 0.0})
    with pytest.raises(DataError, match=r"a2.csv has extra column\(s\) \['z'\]"):
        Dataset.from_csv([files / "a1.csv", files / "a2.csv"])


def test_lacking_and_extra_together_are_both_named(files: Path) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"x": 0.0, "z": 0.0})
    with pytest.raises(DataError) as info:
        Dataset.from_csv(str(files / "a*.csv"))
    text = str(info.value)
    assert "lacks column(s) ['y'] and has extra column(s) ['z']" in text, text


def test_reordered_columns_are_matched_by_name(files: Path) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"y": 5000.0, "x": 500.0})  # y first
    ds = Dataset.from_csv(str(files / "a*.csv"))
    assert ds.columns == ["x", "y"] and len(ds) == 400
    second = ds.frame.loc["2024-01-10":]
    np.testing.assert_array_equal(second["x"].to_numpy(), 500.0 + np.arange(200))
    np.testing.assert_array_equal(second["y"].to_numpy(), 5000.0 + np.arange(200))


def test_files_are_concatenated_in_time_order_whatever_their_names(files: Path) -> None:
    write(files / "a0.csv", "2024-01-10", 200, {"x": 500.0, "y": 5000.0})  # later, sorts first
    ds = Dataset.from_csv(str(files / "a*.csv"))
    assert ds.index.is_monotonic_increasing
    assert ds.frame["x"].iloc[0] == 0.0 and ds.frame["x"].iloc[200] == 500.0


def test_columns_option_needs_only_those_columns(files: Path) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"x": 500.0, "z": 0.0})
    ds = Dataset.from_csv(str(files / "a*.csv"), columns=["x"])
    assert ds.columns == ["x"] and len(ds) == 400
    np.testing.assert_array_equal(ds.values[200:, 0], 500.0 + np.arange(200))
    with pytest.raises(DataError, match=r"columns \['y'\] not found in .*a2.csv"):
        Dataset.from_csv(str(files / "a*.csv"), columns=["x", "y"])
    one = Dataset.from_csv(files / "a1.csv", columns=["y"])  # one file: the same selection
    assert one.columns == ["y"] and one.values[0, 0] == 1000.0


# ---------------------------------------------------------------------- the CLI
def _detect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["detect", *argv, "--detector", "iforest", "--no-output"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("second", "message"),
    [({"x": 0.0}, "a2.csv lacks column(s) ['y']"),
     ({"x": 0.0, "y": 0.0, "z": 0.0}, "a2.csv has extra column(s) ['z']")],
    ids=["lacks", "extra"],
)
def test_cli_glob_over_files_with_different_columns_is_one_clean_error(
    files: Path, second: dict[str, float], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(files / "a2.csv", "2024-01-10", 200, second)
    code, out, err = _detect(capsys, str(files / "a*.csv"))
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err and "--columns" in err, err
    assert "Traceback" not in err and "KeyError" not in err


def test_cli_glob_with_reordered_columns_and_columns_option(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(files / "a2.csv", "2024-01-10", 200, {"y": 5000.0, "x": 500.0})
    code, out, err = _detect(capsys, str(files / "a*.csv"))
    assert code == 0, err
    assert "400 rows x 2 columns" in out, out
    write(files / "a2.csv", "2024-01-10", 200, {"x": 500.0, "z": 0.0})
    code, out, err = _detect(capsys, str(files / "a*.csv"), "--columns", "x")
    assert code == 0, err
    assert "400 rows x 1 column" in out, out
