"""Detection: flags, anomalies, events and the combined frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset, Detection
from anomark.errors import DataError

IDX = pd.date_range("2024-01-01", periods=8, freq="h")
SCORES = pd.Series([0.1, 0.9, 0.8, 0.1, 0.1, 0.7, 0.1, 0.95], index=IDX, name="score")
DATA = Dataset(pd.DataFrame({"v": np.arange(8.0) * 10}, index=IDX))


def test_flags_are_strictly_above_threshold():
    det = Detection(SCORES, 0.7, data=DATA, detector="X")
    assert det.flags.tolist() == [False, True, True, False, False, False, False, True]
    assert det.flags.name == "flag"
    assert det.n_flagged == 3
    assert det.threshold == 0.7


def test_anomalies_table():
    table = Detection(SCORES, 0.5, data=DATA).anomalies
    assert list(table.columns) == ["v", "score"]
    assert list(table.index) == [IDX[1], IDX[2], IDX[5], IDX[7]]
    assert table["v"].tolist() == [10.0, 20.0, 50.0, 70.0]


def test_anomalies_without_data_have_only_scores():
    assert list(Detection(SCORES, 0.5).anomalies.columns) == ["score"]


def test_events_group_consecutive_flags():
    events = Detection(SCORES, 0.5).events
    assert list(events.columns) == [
        "start", "end", "peak_time", "peak_score", "n_points", "located_at"
    ]
    assert (events["located_at"] == events["peak_time"]).all()  # no locator: the peak
    assert len(events) == 3
    first = events.iloc[0]
    assert (first["start"], first["end"], first["peak_time"]) == (IDX[1], IDX[2], IDX[1])
    assert first["peak_score"] == 0.9
    assert first["n_points"] == 2
    assert events["n_points"].tolist() == [2, 1, 1]


def test_no_flags_no_events():
    det = Detection(SCORES, 5.0)
    assert det.events.empty
    assert list(det.events.columns) == [
        "start", "end", "peak_time", "peak_score", "n_points", "located_at"
    ]
    assert det.anomalies.empty
    assert "0 flagged in 0 event(s)" in repr(det)


def test_events_report_where_the_detector_located_them():
    located = pd.Series([IDX[max(i - 1, 0)] for i in range(len(IDX))], index=IDX)
    det = Detection(SCORES, 0.5, located=located)
    assert det.locates_events
    events = det.events
    assert events["located_at"].tolist() == [
        IDX[max(IDX.get_loc(t) - 1, 0)] for t in events["peak_time"]
    ]
    assert not Detection(SCORES, 0.5).locates_events
    with pytest.raises(DataError, match="one time per score"):
        Detection(SCORES, 0.5, located=located.iloc[1:])


def test_per_row_thresholds_decide_the_flags():
    thresholds = pd.Series(np.where(np.arange(len(SCORES)) < 3, np.inf, 0.0), index=IDX)
    det = Detection(SCORES, 0.0, thresholds=thresholds)
    np.testing.assert_array_equal(
        det.flags.to_numpy(), (SCORES.to_numpy() > 0.0) & (np.arange(len(SCORES)) >= 3)
    )
    assert det.thresholds is not None and det.thresholds.name == "threshold"
    with pytest.raises(DataError, match="one value per score"):
        Detection(SCORES, 0.0, thresholds=thresholds.iloc[1:])
    with pytest.raises(DataError, match="NaN"):
        Detection(SCORES, 0.0, thresholds=thresholds * np.nan)


def test_to_frame():
    frame = Detection(SCORES, 0.5, data=DATA).to_frame()
    assert list(frame.columns) == ["v", "score", "flag"]
    assert frame.index.equals(IDX)
    assert frame["flag"].sum() == 4


def test_repr_names_detector():
    assert repr(Detection(SCORES, 0.5, detector="IsolationForestDetector")).startswith(
        "<Detection by IsolationForestDetector: 8 points, threshold 0.5, 4 flagged in 3 event(s)"
    )


def test_invalid_construction():
    with pytest.raises(TypeError, match=r"scores must be a pandas Series"):
        Detection(SCORES.to_numpy(), 0.5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"data has 8 rows but there are 3 scores"):
        Detection(SCORES.iloc[:3], 0.5, data=DATA)


def test_data_column_named_score_does_not_clash() -> None:
    import pandas as pd

    from anomark import Dataset
    from anomark.detection import Detection

    index = pd.date_range("2024-01-01", periods=4, freq="h")
    data = Dataset(pd.DataFrame({"score": [1.0, 2.0, 3.0, 4.0], "flag": 0.0}, index=index))
    det = Detection(pd.Series([0.1, 0.9, 0.2, 0.3], index=index), 0.5, data=data)
    table = det.anomalies
    assert list(table.columns) == ["data.score", "data.flag", "score"]
    assert table["data.score"].tolist() == [2.0]
    assert table["score"].tolist() == [0.9]
    frame = det.to_frame()
    assert list(frame.columns) == ["data.score", "data.flag", "score", "flag"]
    assert frame["flag"].tolist() == [False, True, False, False]


# ---------------------------------------------------------------------- issue 5 (hardening)
_IDX = pd.date_range("2024-01-01", periods=3, freq="min")


@pytest.mark.parametrize(
    ("threshold", "match"),
    [("abc", r"threshold must be a real number, got str 'abc'"),
     (None, r"threshold must be a real number, got NoneType"),
     (True, r"threshold must be a real number, got bool"),
     (float("nan"), r"threshold must be a real number, got NaN"),
     (1 + 2j, r"threshold must be a real number")],
)
def test_bad_thresholds_are_refused(threshold, match):
    with pytest.raises(DataError, match=match):
        Detection(pd.Series([0.0, 1.0, 5.0], index=_IDX), threshold)


@pytest.mark.parametrize(
    ("scores", "match"),
    [(pd.Series(["1", "2", "3"], index=_IDX), r"scores must be real numbers, got a Series of"),
     (pd.Series(["1", "2", "3"], index=_IDX, dtype=object), r"scores must be real numbers"),
     (pd.Series([True, False, True], index=_IDX), r"dtype bool"),
     (pd.Series([np.nan, 1.0, 5.0], index=_IDX), r"1 NaN value\(s\), first at 2024-01-01 00:00"),
     (pd.Series([1, None, 3], index=_IDX, dtype="Float64"), r"1 NaN value\(s\)")],
)
def test_bad_scores_are_refused(scores, match):
    with pytest.raises(DataError, match=match):
        Detection(scores, 1.0)


def test_numeric_scores_of_any_dtype_become_float64_and_inf_thresholds_work():
    det = Detection(pd.Series([1, 2, 3], index=_IDX, dtype="int32"), np.float32(1.5))  # type: ignore[arg-type]
    assert det.scores.dtype == np.float64 and det.scores.name == "score"
    assert det.flags.tolist() == [False, True, True] and isinstance(det.threshold, float)
    assert Detection(det.scores, np.inf).n_flagged == 0
    assert Detection(det.scores, -np.inf).n_flagged == 3
    objects = pd.Series([1.0, 2, 3], index=_IDX, dtype=object)
    assert Detection(objects, 2).flags.tolist() == [False, False, True]


# ---------------------------------------------------------------- Detection.concat
def test_concat_joins_an_event_that_crosses_the_boundary():
    first = Detection(SCORES.iloc[:3], 0.5, data=DATA.split(at=IDX[3])[0], detector="X")
    second = Detection(SCORES.iloc[3:], 0.5, data=DATA.split(at=IDX[3])[1], detector="X")
    whole = Detection(SCORES, 0.5, data=DATA, detector="X")
    # split at row 2 instead: rows 1-2 flagged, the event crosses the boundary
    a = Detection(SCORES.iloc[:2], 0.5, detector="X")
    b = Detection(SCORES.iloc[2:], 0.5, detector="X")
    assert len(a.events) + len(b.events) == 4  # the event at rows 1-2 is cut in two
    joined = Detection.concat([a, b])
    pd.testing.assert_frame_equal(joined.events, whole.events)
    assert joined.threshold == 0.5 and joined.thresholds is None and joined.detector == "X"
    both = Detection.concat([first, second])
    pd.testing.assert_frame_equal(both.to_frame(), whole.to_frame())
    assert both.data is not None and both.data.columns == ["v"]


def test_concat_keeps_per_row_thresholds_located_times_and_the_last_threshold():
    located = pd.Series(IDX - pd.Timedelta("30min"), index=IDX)
    a = Detection(SCORES.iloc[:4], 0.5, located=located.iloc[:4], detector="X")
    b = Detection(
        SCORES.iloc[4:], 0.9, thresholds=pd.Series([0.6, 0.6, 0.9, 0.9], index=IDX[4:]),
        located=located.iloc[4:], detector="Y",
    )
    joined = Detection.concat([a, b])
    assert joined.threshold == 0.9  # the rule's value after the last row
    assert joined.thresholds is not None
    assert joined.thresholds.tolist() == [0.5] * 4 + [0.6, 0.6, 0.9, 0.9]
    assert joined.flags.tolist() == [False, True, True, False, False, True, False, True]
    assert joined.locates_events and joined.detector is None
    assert joined.events["located_at"].tolist() == [IDX[1] - pd.Timedelta("30min"),
                                                    IDX[5] - pd.Timedelta("30min"),
                                                    IDX[7] - pd.Timedelta("30min")]
    # two fixed thresholds that differ also give per-row thresholds
    c = Detection.concat([Detection(SCORES.iloc[:4], 0.85), Detection(SCORES.iloc[4:], 0.5)])
    assert c.flags.tolist() == [False, True, False, False, False, True, False, True]
    # a part without located times: none are kept (events fall back to the peak time)
    plain = Detection.concat([a, Detection(SCORES.iloc[4:], 0.5)])
    assert plain.located is None and plain.events["located_at"].tolist() == [IDX[1], IDX[5], IDX[7]]


def test_concat_refuses_what_cannot_be_joined():
    a = Detection(SCORES.iloc[:4], 0.5)
    with pytest.raises(DataError, match=r"^Detection.concat: no detections to join$"):
        Detection.concat([])
    with pytest.raises(TypeError, match=r"^Detection.concat: part 1 is a Series, not a Detection$"):
        Detection.concat([a, SCORES])  # type: ignore[list-item]
    with pytest.raises(DataError, match=r"part 1 starts at 2024-01-01 03:00:00, not after part 0"):
        Detection.concat([a, Detection(SCORES.iloc[3:], 0.5)])
    with pytest.raises(DataError, match=r"part 1 starts at 2024-01-01 00:00:00"):
        Detection.concat([a, a])
    # an empty part in the middle is skipped in the order check
    empty = Detection(SCORES.iloc[:0], 0.5)
    assert len(Detection.concat([a, empty, Detection(SCORES.iloc[4:], 0.5)]).scores) == 8
    other = Dataset(pd.DataFrame({"w": np.arange(4.0)}, index=IDX[4:]))
    with pytest.raises(DataError, match=r"part 1's data has columns \['w'\], part 0's \['v'\]"):
        Detection.concat([
            Detection(SCORES.iloc[:4], 0.5, data=DATA.split(at=IDX[4])[0]),
            Detection(SCORES.iloc[4:], 0.5, data=other),
        ])
    naive = Detection(SCORES.iloc[4:].tz_localize("UTC"), 0.5)
    with pytest.raises(DataError, match="must follow each other in time"):
        Detection.concat([a, naive])
