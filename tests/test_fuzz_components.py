"""Property-based fuzzing of the shared components: Windowing, Threshold, Scorers, Detection.

Each generated input ends either in an :class:`~anomark.errors.AnomarkError` whose message names
the problem, or in output equal to a straightforward reference computation (explicit loops,
plain NumPy). The inputs that exposed the bugs fixed in issue 5 are kept as ``REGRESSION``
tests.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _fuzz import run
from anomark import Dataset, Detection, Threshold, Windowing
from anomark.errors import AnomarkError, ConfigurationError, DataError, NotFittedError
from anomark.scoring import ReconstructionScorer

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Regression tests of the bugs fixed in issue 5 (each input class is small: few examples).
REGRESSION = settings(FUZZ, max_examples=10)

finite = st.floats(allow_nan=False, allow_infinity=False)
odd_floats = st.one_of(
    st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, 5e-324])
)



def assert_mentions(exc: BaseException, *keywords: str) -> None:
    text = str(exc).lower()
    assert any(k.lower() in text for k in keywords), f"{exc!r} mentions none of {keywords}"


# ---------------------------------------------------------------------- Windowing
params = st.one_of(
    st.integers(-3, 12), st.sampled_from([0, 2**40, True, 2.0, "3", None, np.int64(3)])
)


@FUZZ
@given(size=params, stride=params, align=st.sampled_from(["end", "start", "center", "middle",
                                                          "", None]))
def test_windowing_constructor_fuzz(size: Any, stride: Any, align: Any) -> None:
    w, exc = run(lambda: Windowing(size, stride, align))
    ok_int = [
        not isinstance(v, bool) and isinstance(v, int | np.integer) and v >= 1
        for v in (size, stride)
    ]
    if exc is not None:
        assert isinstance(exc, ConfigurationError)
        bad = [n for n, ok in zip(("size", "stride"), ok_int, strict=True) if not ok]
        if align not in ("end", "start", "center"):
            bad.append("align")
        assert bad, f"refused valid parameters: {exc}"
        assert_mentions(exc, *bad)
        return
    assert all(ok_int) and align in ("end", "start", "center")
    assert (w.size, w.stride, w.align) == (int(size), int(stride), align)


@st.composite
def series(draw: Any) -> np.ndarray:
    n = draw(st.integers(0, 30))
    k = draw(st.integers(1, 3))
    shape: tuple[int, ...] = (n,) if draw(st.booleans()) and k == 1 else (n, k)
    return draw(hnp.arrays(np.float64, shape, elements=odd_floats))


def _reference_windows(arr: np.ndarray, size: int, stride: int) -> np.ndarray:
    x = arr.reshape(len(arr), -1)
    starts = range(0, len(x) - size + 1, stride)
    return np.stack([x[s : s + size] for s in starts]) if len(x) >= size else np.empty((0,))


@FUZZ
@given(arr=series(), size=st.integers(1, 12), stride=st.integers(1, 5),
       align=st.sampled_from(["end", "start", "center"]))
def test_windows_and_shingles_match_reference(
    arr: np.ndarray, size: int, stride: int, align: Any
) -> None:
    w = Windowing(size, stride, align)
    got, exc = run(lambda: w.windows(arr))
    if exc is not None:
        assert len(arr) < size
        assert isinstance(exc, DataError)
        assert_mentions(exc, f"window size {size}", "series length")
        return
    ref = _reference_windows(arr, size, stride)
    np.testing.assert_array_equal(got, ref)  # NaN/inf are carried, not dropped or changed
    assert w.n_windows(len(arr)) == ref.shape[0]
    sh = w.shingles(arr)
    np.testing.assert_array_equal(sh, ref.reshape(ref.shape[0], -1))
    batches = list(w.iter_shingles(arr, max_bytes=size * ref.shape[2] * 8 * 3))
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), sh)
    assert [s for s, _ in batches] == list(range(0, ref.shape[0], 3))


@FUZZ
@given(n_points=st.integers(-2, 40), size=st.integers(1, 10), stride=st.integers(1, 6),
       align=st.sampled_from(["end", "start", "center"]), data=st.data())
def test_to_points_matches_reference(
    n_points: int, size: int, stride: int, align: Any, data: st.DataObject
) -> None:
    w = Windowing(size, stride, align)
    n_win = (n_points - size) // stride + 1 if n_points >= size else 0
    count = data.draw(st.sampled_from([n_win, n_win, n_win + 1, max(n_win - 1, 0)]))
    scores = data.draw(hnp.arrays(np.float64, (count,), elements=finite))
    got, exc = run(lambda: w.to_points(scores, n_points))
    if exc is not None:
        assert isinstance(exc, DataError)
        if n_points < size:
            assert_mentions(exc, "larger than the series length")
        else:
            assert count != n_win
            assert_mentions(exc, f"got {count} window scores", f"expected {n_win}")
        return
    assert n_points >= size and count == n_win
    anchor = {"end": size - 1, "start": 0, "center": (size - 1) // 2}[align]
    ref = np.empty(n_points)
    for t in range(n_points):  # the last window anchored at or before t; before any: the first
        owners = [i for i in range(n_win) if i * stride + anchor <= t]
        ref[t] = scores[owners[-1] if owners else 0]
    np.testing.assert_array_equal(got, ref)


@REGRESSION
@given(case=st.sampled_from(["float_n", "scalar", "text", "start_gt_stop", "ragged"]))
def test_windowing_malformed_arguments(case: str) -> None:
    w = Windowing(2)
    calls = {
        "float_n": lambda: w.to_points(np.ones(2), 3.0),  # type: ignore[arg-type]
        "scalar": lambda: w.to_points(1.0, 2),  # type: ignore[arg-type]
        "text": lambda: w.to_points(np.array(["a", "b"]), 3),
        "start_gt_stop": lambda: w.shingles(np.arange(5.0), 3, 1),
        "ragged": lambda: w.windows([[1.0], [1.0, 2.0]]),  # type: ignore[arg-type]
    }
    out, exc = run(calls[case])
    if exc is None:
        assert case == "start_gt_stop" and out.shape == (0, 2)
    else:
        assert isinstance(exc, DataError)


# ---------------------------------------------------------------------- Threshold
methods = st.sampled_from(["mean_std", "quantile", "contamination", "mad", "fixed"])
threshold_params = st.one_of(
    st.floats(-2.0, 10.0), st.sampled_from([np.nan, np.inf, 0.0, 0.5, 1.0, True, "3", None])
)


@FUZZ
@given(method=st.one_of(methods, st.sampled_from(["", "MEAN_STD", "mean-std"])),
       param=threshold_params)
def test_threshold_constructor_fuzz(method: Any, param: Any) -> None:
    t, exc = run(lambda: Threshold(method, param))
    if exc is not None:
        assert isinstance(exc, ConfigurationError)
        assert_names_param(exc, method)
        return
    assert method in ("mean_std", "quantile", "contamination", "mad", "fixed")
    assert not isinstance(param, bool | str) and param is not None and math.isfinite(param)
    if method in ("mean_std", "mad"):
        assert param >= 0
    if method == "quantile":
        assert 0 < param < 1
    if method == "contamination":
        assert 0 < param < 0.5
    assert Threshold.from_dict(t.to_dict()) == t


#: The parameter of each one-parameter rule, as its messages name it.
PARAM_NAME = {"mean_std": "k", "quantile": "q", "contamination": "c", "mad": "k",
              "fixed": "value"}


def assert_names_param(exc: BaseException, method: Any) -> None:
    """A refused Threshold(method, param) names the unknown method, or the rule and its
    parameter ("Threshold.quantile: q must be in (0, 1), got 1.5")."""
    text = str(exc)
    if method not in PARAM_NAME:
        assert text.startswith(f"unknown threshold method {method!r}"), text
        return
    name = PARAM_NAME[method]
    assert text.startswith(
        (f"Threshold.{method}: {name} must", f"Threshold.{method} takes one parameter ({name})")
    ), text


def _reference_value(method: str, p: float, x: np.ndarray) -> float:
    if method == "mean_std":
        mean = sum(x) / len(x)
        return float(mean + p * math.sqrt(sum((v - mean) ** 2 for v in x) / len(x)))
    if method == "quantile":
        return float(np.quantile(x, p))
    if method == "contamination":
        return float(np.quantile(x, 1 - p))
    if method == "mad":
        med = float(np.median(x))
        return med + p * 1.4826 * float(np.median(np.abs(x - med)))
    return p


score_arrays = st.one_of(
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.integers(1, 10), elements=odd_floats),
    st.builds(lambda v, n: np.full(n, v), st.floats(-1e6, 1e6), st.integers(1, 20)),
    hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 3))),
)


@FUZZ
@given(method=methods, scores=score_arrays, data=st.data(),
       as_series=st.booleans())
def test_threshold_fit_apply_fuzz(
    method: str, scores: np.ndarray, data: st.DataObject, as_series: bool
) -> None:
    param = {"mean_std": 3.0, "quantile": 0.9, "contamination": 0.1, "mad": 5.0,
             "fixed": data.draw(st.floats(-10, 10))}[method]
    rule = Threshold(method, param)  # type: ignore[arg-type]
    arg: Any = pd.Series(scores.ravel()) if as_series and scores.ndim == 1 else scores
    fitted, exc = run(lambda: rule.fit(arg))
    if exc is not None:
        assert isinstance(exc, DataError)
        if scores.ndim != 1:
            assert_mentions(exc, "1-d")
        elif scores.size == 0:
            assert_mentions(exc, "no scores")
        else:
            assert not np.isfinite(scores).all()
            assert_mentions(exc, "nan or infinite")
        return
    assert scores.ndim == 1 and scores.size and np.isfinite(scores).all()
    ref = _reference_value(method, param, scores)
    assert fitted.value_ == pytest.approx(ref, rel=1e-9, abs=1e-9)
    flags = fitted.apply(arg)
    assert isinstance(flags, pd.Series) and flags.dtype == bool and len(flags) == len(scores)
    np.testing.assert_array_equal(flags.to_numpy(), scores > fitted.value_)
    if np.ptp(scores) == 0 and method != "fixed":
        assert not flags.any(), "constant scores must flag nothing"
    if as_series:
        assert flags.index.equals(arg.index)


@FUZZ
@given(d=st.one_of(
    st.fixed_dictionaries({"method": st.one_of(methods, st.text(max_size=3), st.integers()),
                           "param": threshold_params}),
    st.fixed_dictionaries({"method": methods, "param": st.floats(0.01, 0.4)},
                          optional={"value": st.one_of(finite, st.sampled_from(
                              [np.nan, np.inf, "1", None, True])),
                              "extra": st.integers()}),
    st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.text(max_size=3)),
))
def test_threshold_from_dict_fuzz(d: Any) -> None:
    """Hand-edited threshold descriptions (as in a saved config.json)."""
    t, exc = run(lambda: Threshold.from_dict(d))
    if exc is not None:
        assert isinstance(exc, ConfigurationError)
        text = str(exc)
        if not isinstance(d, dict):
            assert text == f"a threshold must be described by a dict, got {d!r}", text
        elif set(d) - {"method", "param", "value"}:  # the unexpected key is listed
            assert "a threshold dict needs 'method' and 'param'" in text, text
            assert all(repr(k) in text for k in set(d) - {"method", "param", "value"}), text
        elif "value" in d and text.startswith("threshold value"):
            assert d["method"] in PARAM_NAME, text  # the rule itself was valid
        else:
            assert_names_param(exc, d["method"])
        return
    assert isinstance(d, dict) and set(d) <= {"method", "param", "value"}
    assert t.method == d["method"] and t.param == float(d["param"])
    if "value" in d:
        assert t.value_ == float(d["value"]) and math.isfinite(t.value_)
    else:
        with pytest.raises(NotFittedError, match="not fitted"):
            t.apply([1.0])


@REGRESSION
@given(value=st.sampled_from([0.7296554464299441, 0.9127555772777217, -7.68827364e-261]),
       n=st.sampled_from([169, 4066, 6]), k=st.sampled_from([0.0, 0.5, 3.0]))
def test_threshold_mean_std_constant_scores_flag_nothing(value: float, n: int, k: float) -> None:
    scores = np.full(n, value)
    flags = Threshold.mean_std(k).fit(scores).apply(scores)
    assert not flags.any(), f"{int(flags.sum())} of {n} equal scores flagged"


@REGRESSION
@given(method=st.sampled_from([["mean_std"], {"a": 1}]))
def test_threshold_from_dict_unhashable_method(method: Any) -> None:
    _, exc = run(lambda: Threshold.from_dict({"method": method, "param": 1.0}))
    assert isinstance(exc, ConfigurationError)


@REGRESSION
@given(method=st.sampled_from(["mean_std", "mad"]),
       big=st.floats(1e300, 1e307), n=st.integers(2, 6))
def test_threshold_on_huge_finite_scores(method: str, big: float, n: int) -> None:
    scores = np.array([big, -big] * n) if method == "mean_std" else np.full(2 * n, big * 10)
    with np.errstate(all="ignore"):
        t = Threshold(method, 3.0).fit(scores)  # type: ignore[arg-type]
    scale = float(np.abs(scores).max())
    ref = scale * _reference_value(method, 3.0, scores / scale)
    assert math.isfinite(t.value_) and t.value_ == pytest.approx(ref, rel=1e-9)


# ---------------------------------------------------------------------- Scorers
@FUZZ
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4),
    other=st.none() | hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4),
    metric=st.sampled_from(["mse", "mae"]), per_feature=st.booleans(), data=st.data(),
)
def test_reconstruction_scorer_fuzz(
    shape: tuple[int, ...], other: tuple[int, ...] | None, metric: Any, per_feature: bool,
    data: st.DataObject,
) -> None:
    x = data.draw(hnp.arrays(np.float64, shape, elements=odd_floats))
    r = data.draw(hnp.arrays(np.float64, other or shape, elements=odd_floats))
    scorer = ReconstructionScorer(metric, per_feature)
    got, exc = run(lambda: scorer.score(x, r))
    x3 = x[:, :, None] if x.ndim == 2 else x
    r3 = r[:, :, None] if r.ndim == 2 else r
    if exc is not None:
        assert isinstance(exc, DataError)
        if x3.shape != r3.shape or x3.ndim != 3:
            assert_mentions(exc, "same 3-d shape")
        elif x3.shape[0] and 0 in x3.shape[1:]:
            assert_mentions(exc, "0 time steps or 0 features")
        else:
            assert_mentions(exc, "nan/inf")
        return
    assert x3.shape == r3.shape and x3.ndim == 3
    assert not (x3.shape[0] and 0 in x3.shape[1:]), "windows without values were scored"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diff = x3 - r3
        err = diff**2 if metric == "mse" else np.abs(diff)
        ref = err.mean(axis=1)
        ref = ref if per_feature else ref.mean(axis=1)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert got.shape == ((x3.shape[0], x3.shape[2]) if per_feature else (x3.shape[0],))


@REGRESSION
@given(case=st.sampled_from(["recon_text", "ragged"]))
def test_scorers_non_numeric_input(case: str) -> None:
    calls = {
        "recon_text": lambda: ReconstructionScorer().score(np.array([["a"]]), np.array([["b"]])),
        "ragged": lambda: ReconstructionScorer().score([[1.0], [1.0, 2.0]], [[1.0], [1.0]]),
    }
    _, exc = run(calls[case])
    assert isinstance(exc, DataError)


# ---------------------------------------------------------------------- Detection
@FUZZ
@given(
    scores=hnp.arrays(np.float64, st.integers(0, 30), elements=st.floats(-100, 100)),
    threshold=st.one_of(st.floats(-100, 100), st.sampled_from([np.inf, -np.inf])),
    with_data=st.booleans(), data_len_delta=st.sampled_from([0, 0, 0, 1, -1]),
    unsorted=st.booleans(),
)
def test_detection_fuzz(
    scores: np.ndarray, threshold: float, with_data: bool, data_len_delta: int,
    unsorted: bool,
) -> None:
    n = len(scores)
    index = pd.date_range("2024-01-01", periods=n, freq="min")
    series = pd.Series(scores, index=index)
    ds = None
    if with_data and n + data_len_delta > 0:
        ds = Dataset.from_array(np.arange(n + data_len_delta, dtype=float))
    det, exc = run(lambda: Detection(series, threshold, data=ds, detector="x"))
    if exc is not None:
        assert ds is not None and len(ds) != n
        assert_mentions(exc, f"{len(ds)} rows", f"{n} scores")
        return
    flags = scores > threshold
    np.testing.assert_array_equal(det.flags.to_numpy(), flags)
    assert det.n_flagged == int(flags.sum())
    assert det.flags.index.equals(index) and det.scores.name == "score"
    anomalies = det.anomalies
    assert list(anomalies.index) == list(index[flags])
    np.testing.assert_array_equal(anomalies["score"].to_numpy(), scores[flags])
    if ds is not None:
        np.testing.assert_array_equal(anomalies["value"].to_numpy(), ds.values[flags, 0])
    # events: maximal runs of consecutive flags, reference by a plain loop
    runs: list[tuple[int, int]] = []
    for i, f in enumerate(flags):
        if f and (i == 0 or not flags[i - 1]):
            runs.append((i, i))
        elif f:
            runs[-1] = (runs[-1][0], i)
    events = det.events
    assert len(events) == len(runs)
    for (s, e), row in zip(runs, events.itertuples(index=False), strict=True):
        assert (row.start, row.end, row.n_points) == (index[s], index[e], e - s + 1)
        assert row.peak_score == scores[s : e + 1].max()
        assert row.peak_time == index[s + int(np.argmax(scores[s : e + 1]))]
    frame = det.to_frame()
    assert len(frame) == n and list(frame["flag"]) == list(flags)


@REGRESSION
@given(case=st.sampled_from(["text_threshold", "none_threshold", "text_scores", "nan_scores",
                             "nan_threshold"]))
def test_detection_rejects_bad_scores_and_thresholds(case: str) -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="min")
    good = pd.Series([0.0, 1.0, 5.0], index=idx)
    args = {
        "text_threshold": (good, "abc"),
        "none_threshold": (good, None),
        "text_scores": (pd.Series(["1", "2", "3"], index=idx), 1.0),
        "nan_scores": (pd.Series([np.nan, 1.0, 5.0], index=idx), 2.0),
        "nan_threshold": (good, float("nan")),
    }[case]
    _, exc = run(lambda: Detection(*args))  # type: ignore[arg-type]
    assert isinstance(exc, AnomarkError)
