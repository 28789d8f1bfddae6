"""Causal post-processors: running z-score, Numenta's anomaly likelihood, NAB's range rule."""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.postprocess import (
    AnomalyLikelihood,
    Chain,
    PostProcessor,
    RangeRule,
    RunningZScore,
    check_postprocess,
    format_postprocess,
    parse_postprocess,
)


def _stream(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(size=n)) + 5.0 * np.sin(np.arange(n) / 20.0)
    scores = np.abs(rng.normal(1.0, 0.2, n)) + (rng.random(n) < 0.01) * 3.0
    return scores, values


def _small_likelihood(**kw: Any) -> AnomalyLikelihood:
    return AnomalyLikelihood(learning_period=40, estimation_samples=60, historic_window=400,
                             reestimation_period=25, **kw)


PROCESSORS = [
    pytest.param(lambda: RunningZScore(), id="zscore"),
    pytest.param(lambda: RunningZScore(window=50, min_periods=5), id="zscore-window"),
    pytest.param(lambda: RunningZScore(burn_in=150), id="zscore-burn-in"),
    pytest.param(lambda: _small_likelihood(), id="likelihood"),
    pytest.param(lambda: _small_likelihood(tail="both", log_scale=False), id="likelihood-both"),
    pytest.param(lambda: RangeRule(tolerance=0.02, value=7.0), id="range"),
    pytest.param(lambda: Chain([RunningZScore(), _small_likelihood(), RangeRule()]), id="chain"),
]


# ---------------------------------------------------------------------- causality
@pytest.mark.parametrize("make", PROCESSORS)
def test_changing_the_future_never_moves_an_earlier_output(make: Any) -> None:
    scores, values = _stream()
    base = make().update(scores, values=values)
    rng = np.random.default_rng(1)
    for cut in (1, 99, 100, 101, 700, 1499):
        s2, v2 = scores.copy(), values.copy()
        s2[cut:] = rng.normal(50.0, 30.0, len(s2) - cut)  # wild future scores and values
        v2[cut:] = rng.normal(-100.0, 80.0, len(v2) - cut)
        out = make().update(s2, values=v2)
        np.testing.assert_array_equal(out[:cut], base[:cut])


@pytest.mark.parametrize("make", PROCESSORS)
def test_any_chunking_gives_the_same_outputs(make: Any) -> None:
    scores, values = _stream()
    whole = make().update(scores, values=values)
    rng = np.random.default_rng(2)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, len(scores)), size=12, replace=False))
        proc = make()
        parts = [proc.update(s, values=v) for s, v in
                 zip(np.split(scores, cuts), np.split(values, cuts), strict=True)]
        np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-11, atol=1e-11)
        assert proc.n_seen_ == len(scores)


@pytest.mark.parametrize("make", PROCESSORS)
def test_transform_leaves_the_state_alone(make: Any) -> None:
    scores, values = _stream()
    proc = make()
    first = proc.update(scores[:800], values=values[:800])
    state = copy.deepcopy(proc.get_state())
    ahead = proc.transform(scores[800:], values=values[800:])
    assert proc.n_seen_ == 800
    np.testing.assert_array_equal(proc.get_state()[0]["n_seen_"], state[0]["n_seen_"])
    rest = proc.update(scores[800:], values=values[800:])
    np.testing.assert_array_equal(ahead, rest)
    np.testing.assert_array_equal(make().transform(scores[:800], values=values[:800]), first)


@pytest.mark.parametrize("make", PROCESSORS)
def test_state_round_trip_mid_stream_continues_exactly(make: Any) -> None:
    scores, values = _stream()
    never_stopped = make().update(scores, values=values)
    proc = make()
    head = proc.update(scores[:777], values=values[:777])
    scalars, arrays = proc.get_state()
    import json

    scalars = json.loads(json.dumps(scalars))  # what a save writes
    restored = make().set_state(scalars, {k: np.array(v) for k, v in arrays.items()})
    tail = restored.update(scores[777:], values=values[777:])
    np.testing.assert_array_equal(tail, proc.update(scores[777:], values=values[777:]))
    np.testing.assert_allclose(np.concatenate([head, tail]), never_stopped, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("make", PROCESSORS)
def test_series_in_series_out_and_reset(make: Any) -> None:
    scores, values = _stream(300)
    index = pd.date_range("2024-01-01", periods=300, freq="5min")
    proc = make()
    out = proc.update(pd.Series(scores, index=index), values=values)
    assert isinstance(out, pd.Series) and out.index.equals(index) and out.name == "score"
    assert np.isfinite(out.to_numpy()).all()
    proc.reset()
    assert not proc.is_started
    np.testing.assert_array_equal(proc.update(scores, values=values), out.to_numpy())


# ---------------------------------------------------------------------- RunningZScore
def test_running_zscore_matches_brute_force() -> None:
    scores, _ = _stream(600)
    scores = scores * 1e6 + 3e9  # large offset: the moments must not lose precision
    out = RunningZScore(min_periods=3).update(scores)
    for t in range(600):
        past = scores[:t]
        if t < 3:
            assert out[t] == 0.0
            continue
        expect = (scores[t] - past.mean()) / past.std()
        assert out[t] == pytest.approx(expect, rel=1e-8, abs=1e-8)


def test_running_zscore_window_matches_brute_force() -> None:
    scores, _ = _stream(400)
    out = RunningZScore(window=30, min_periods=5).update(scores)
    for t in range(400):
        past = scores[max(0, t - 30):t]
        expect = 0.0 if len(past) < 5 else (scores[t] - past.mean()) / past.std()
        assert out[t] == pytest.approx(expect, rel=1e-9, abs=1e-9)


def test_running_zscore_needs_spread_in_the_earlier_scores() -> None:
    out = RunningZScore().update(np.array([2.0] * 20 + [2.5, 2.0, 3.0]))
    assert out[:21].tolist() == [0.0] * 21  # all earlier scores equal: nothing to measure
    past = np.array([2.0] * 20 + [2.5])
    assert out[21] == pytest.approx((2.0 - past.mean()) / past.std())
    assert out[22] > 4.0


def test_running_zscore_burn_in_leaves_the_first_scores_out() -> None:
    scores, _ = _stream(300)
    scores[:10] = 1e6  # a cold start far off
    out = RunningZScore(burn_in=10, min_periods=3).update(scores)
    ref = RunningZScore(min_periods=3).update(scores[10:])
    assert out[:10].tolist() == [0.0] * 10
    np.testing.assert_array_equal(out[10:], ref)
    win = RunningZScore(window=20, burn_in=10).update(scores)
    np.testing.assert_allclose(win[10:], RunningZScore(window=20).update(scores[10:]), rtol=1e-12)


# ---------------------------------------------------------------------- AnomalyLikelihood
def _nupic_reference(scores: np.ndarray, values: np.ndarray | None, lp: int, es: int,
                     window: int, period: int, aw: int = 10, both: bool = True) -> list[float]:
    """nupic's AnomalyLikelihood, transcribed loop by loop (anomalyProbability +
    estimateAnomalyLikelihoods + updateAnomalyLikelihoods + computeLogLikelihood)."""
    from collections import deque

    def tail(x: float, mean: float, std: float) -> float:
        if both and x < mean:
            x = 2 * mean - x
        return 0.5 * math.erfc((x - mean) / std / 1.4142)

    def moving(hist: list[float], total: float, v: float) -> tuple[float, list[float], float]:
        if len(hist) == aw:
            total -= hist.pop(0)
        hist.append(v)
        total += v
        return total / len(hist), hist, total

    history: deque[tuple[float, float]] = deque(maxlen=window)
    dist: dict[str, Any] | None = None
    out = []
    for i, s in enumerate(scores):
        v = 0.0 if values is None else float(values[i])
        if i < lp + es:
            likelihood = 0.5
        else:
            if dist is None or i % period == 0:
                skip = min(i, max(0, lp - max(0, i - window)))
                hist: list[float] = []
                total = 0.0
                avgs = []
                for _, sc in history:
                    a, hist, total = moving(hist, total, sc)
                    avgs.append(a)
                if len(avgs) <= skip:
                    mean, std = 0.5, 1e3
                else:
                    data = np.array(avgs[skip:])
                    mean = max(float(np.mean(data)), 0.03)
                    std = math.sqrt(max(float(np.var(data)), 0.0003))
                    if values is not None:
                        metric = np.array([h[0] for h in history])[skip:]
                        if np.var(metric) < 1.5e-5:
                            mean, std = 0.5, 1e3
                liks = [tail(a, mean, std) for a in avgs]
                dist = {"mean": mean, "std": std, "hist": hist, "total": total,
                        "liks": liks[-min(aw, len(liks)):]}
            a, dist["hist"], dist["total"] = moving(dist["hist"], dist["total"], float(s))
            lik = tail(a, dist["mean"], dist["std"])
            l2 = dist["liks"] + [lik]
            filtered = lik
            if len(l2) > 1 and lik <= 1 - 0.99999 and l2[-2] <= 1 - 0.99999:
                filtered = 1 - 0.999
            dist["liks"] = l2[-min(aw, len(l2)):]
            likelihood = 1.0 - filtered
        history.append((v, float(s)))
        out.append(math.log(1.0000000001 - likelihood) / -23.02585084720009)
    return out


@pytest.mark.parametrize("both", [True, False])
@pytest.mark.parametrize("with_values", [True, False])
def test_likelihood_matches_a_transcription_of_nupic(both: bool, with_values: bool) -> None:
    scores, values = _stream(1200, seed=3)
    values[300:700] = 4.0  # a flat stretch triggers nupic's constant-metric rule
    scores[900:905] = 6.0  # a burst: red, then yellow
    proc = AnomalyLikelihood(learning_period=50, estimation_samples=80, historic_window=500,
                             reestimation_period=30, tail="both" if both else "upper")
    got = proc.update(scores, values=values if with_values else None)
    ref = _nupic_reference(scores, values if with_values else None, 50, 80, 500, 30, both=both)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    assert got[:130].tolist() == pytest.approx([0.0301029996659] * 130)


def _nab_dir() -> Path | None:
    folder = os.environ.get("ANOMARK_NAB_DIR")
    if folder and (Path(folder) / "results" / "numenta").is_dir():
        return Path(folder)
    return None


@pytest.mark.skipif(_nab_dir() is None, reason="needs NAB's results/ (ANOMARK_NAB_DIR)")
@pytest.mark.parametrize("series", [
    "realKnownCause/nyc_taxi.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
])
def test_likelihood_and_range_rule_reproduce_nabs_numenta_results(series: str) -> None:
    """NAB's numenta detector = HTM raw score -> likelihood (NAB's parameters) -> range rule;
    from the published raw_score and value we get the published anomaly_score."""
    folder, name = series.split("/")
    frame = pd.read_csv(_nab_dir() / "results" / "numenta" / folder / f"numenta_{name}")  # type: ignore[operator]
    p = min(math.floor(0.15 * len(frame)), 750)
    chain = Chain([AnomalyLikelihood(learning_period=p // 2, estimation_samples=p - p // 2),
                   RangeRule()])
    got = chain.update(frame["raw_score"].to_numpy(float), values=frame["value"].to_numpy(float))
    np.testing.assert_allclose(got, frame["anomaly_score"].to_numpy(float), rtol=0, atol=1e-9)


def test_likelihood_flags_a_burst_and_ignores_flat_input() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(1.0, 0.1, 800)
    s[600:610] = 3.0
    out = AnomalyLikelihood(learning_period=50, estimation_samples=100).update(s)
    assert out[600] > 0.6 and out[150:600].max() < 0.5
    # nupic's filter: a run of very unlikely averages stays "red" only on its first row
    assert out[601:610] == pytest.approx([math.log(0.001 + 1e-10) / math.log(1e-10)] * 9)
    flat = AnomalyLikelihood(learning_period=50, estimation_samples=100).update(
        s, values=np.full(800, 7.0))
    assert flat[150:].max() < 0.05  # constant input: the null distribution


# ---------------------------------------------------------------------- RangeRule
def _nab_spatial(values: np.ndarray, tol: float = 0.05) -> list[bool]:
    """NAB's numenta_detector.handleRecord spatial check, verbatim in spirit."""
    lo = hi = None
    out = []
    for v in values:
        flag = False
        if lo != hi:
            assert lo is not None and hi is not None
            tolerance = (hi - lo) * tol
            flag = v > hi + tolerance or v < lo - tolerance
        if hi is None or v > hi:
            hi = v
        if lo is None or v < lo:
            lo = v
        out.append(flag)
    return out


def test_range_rule_matches_nabs_spatial_check() -> None:
    _, values = _stream(2000, seed=5)
    got = RangeRule(value=5.0).update(np.zeros(2000), values=values)
    assert (got == 5.0).tolist() == _nab_spatial(values)
    assert (got == 5.0).sum() > 5


def test_range_rule_any_column_and_keeps_higher_scores() -> None:
    values = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 1.5], [0.5, 0.5], [2.0, 0.5]])
    scores = np.array([0.0, 0.0, 0.0, 0.0, 9.0])
    out = RangeRule(tolerance=0.1, value=3.0).update(scores, values=values)
    assert out.tolist() == [0.0, 0.0, 3.0, 0.0, 9.0]


def test_range_rule_without_values_passes_scores_through() -> None:
    s = np.array([1.0, 5.0, 2.0])
    np.testing.assert_array_equal(RangeRule().update(s), s)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("proc", "match"),
    [
        (RunningZScore(window=1), "window must be an integer in \\[2, inf\\) or None"),
        (RunningZScore(window=5, min_periods=6), "min_periods \\(6\\) cannot exceed window"),
        (AnomalyLikelihood(estimation_samples=0), "estimation_samples must be an integer"),
        (AnomalyLikelihood(historic_window=10, estimation_samples=20), "historic_window"),
        (AnomalyLikelihood(tail="lower"), "tail must be one of 'upper', 'both'"),
        (AnomalyLikelihood(log_scale=1), "log_scale must be true or false"),
        (RangeRule(tolerance=-0.1), "tolerance must be a number in \\[0, inf\\)"),
        (RangeRule(value=float("nan")), "value must be a number"),
    ],
)
def test_bad_parameters_are_reported_on_use(proc: PostProcessor, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        proc.update(np.ones(3), values=np.ones(3))


@pytest.mark.parametrize(
    ("scores", "values", "match"),
    [
        (np.array([1.0, np.nan]), None, "NaN or infinite"),
        (np.ones((2, 2)), None, "scores must be 1-D"),
        (pd.DataFrame({"a": [1.0]}), None, "got a DataFrame"),
        (np.array(["a", "b"]), None, "scores must be numbers"),
        (np.ones(3), np.ones(4), "one row per score"),
        (np.ones(2), np.array([1.0, np.inf]), "values hold NaN"),
    ],
)
def test_bad_input_is_reported(scores: Any, values: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        RangeRule().update(scores, values=values)


def test_values_must_keep_coming_with_the_same_columns() -> None:
    rule = RangeRule()
    rule.update(np.ones(3), values=np.ones((3, 2)))
    with pytest.raises(DataError, match="3 column\\(s\\), expected 2"):
        rule.update(np.ones(3), values=np.ones((3, 3)))
    with pytest.raises(DataError, match="give the values of these rows too"):
        rule.update(np.ones(3))
    late = RangeRule()
    late.update(np.ones(3))
    with pytest.raises(DataError, match="without values before"):
        late.update(np.ones(3), values=np.ones(3))


def test_set_state_rejects_tampered_states() -> None:
    proc = RunningZScore(window=20)
    proc.update(np.arange(50.0))
    scalars, arrays = proc.get_state()
    with pytest.raises(PersistenceError, match="unknown keys"):
        RunningZScore(window=20).set_state({**scalars, "extra": 1}, arrays)
    with pytest.raises(PersistenceError, match="history holds"):
        RunningZScore(window=20).set_state(scalars, {"history_": np.ones(3)})
    with pytest.raises(PersistenceError, match="finite"):
        RunningZScore(window=20).set_state({**scalars, "mean_": float("inf")}, arrays)
    with pytest.raises(PersistenceError, match="n_seen_"):
        RunningZScore(window=20).set_state({**scalars, "n_seen_": -1}, arrays)


# ---------------------------------------------------------------------- text form and lists
@pytest.mark.parametrize("text", [
    "none",
    "zscore",
    "zscore:window=500,min_periods=3,burn_in=128",
    "likelihood:learning_period=100,estimation_samples=50,tail=both,log_scale=false",
    "zscore+range:tolerance=0.1,value=10.0",
    "likelihood+range",
    "range:value=1e+30",
])
def test_text_round_trip_is_exact(text: str) -> None:
    steps = parse_postprocess(text)
    again = parse_postprocess(format_postprocess(steps))
    assert again == steps
    assert format_postprocess(again) == format_postprocess(steps)


@pytest.mark.parametrize(("text", "match"), [
    ("zscor", "unknown post-processor 'zscor'"),
    ("zscore:window", "expected key=value"),
    ("zscore:span=3", "expected key=value with key one of window, min_periods, burn_in"),
    ("zscore:window=1", "window must be an integer in \\[2, inf\\)"),
    ("range:value=abc", "range: value: expected a number"),
    ("likelihood:log_scale=maybe", "expected true or false"),
    ("zscore:window=3,window=4", "window given twice"),
])
def test_text_errors_name_the_problem(text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        parse_postprocess(text)


def test_check_postprocess_accepts_lists_and_rejects_the_rest() -> None:
    assert check_postprocess(None) == []
    assert check_postprocess(RangeRule()) == [RangeRule()]
    assert check_postprocess((RunningZScore(),)) == [RunningZScore()]
    with pytest.raises(ConfigurationError, match="list of post-processors"):
        check_postprocess("zscore")
    with pytest.raises(ConfigurationError, match="must hold post-processors"):
        check_postprocess([RunningZScore(), 3])
    with pytest.raises(ConfigurationError, match="window must be"):
        check_postprocess([RunningZScore(window=0)])


def test_chain_state_round_trip_and_equality() -> None:
    scores, values = _stream(500)
    chain = Chain([RunningZScore(window=40), RangeRule(value=4.0)])
    chain.update(scores[:300], values=values[:300])
    scalars, arrays = chain.get_state()
    other = Chain([RunningZScore(window=40), RangeRule(value=4.0)]).set_state(scalars, arrays)
    np.testing.assert_array_equal(other.update(scores[300:], values=values[300:]),
                                  chain.update(scores[300:], values=values[300:]))
    assert other == chain and Chain([RangeRule()]) != chain
    with pytest.raises(PersistenceError, match="states of its 1 step"):
        Chain([RangeRule()]).set_state(scalars, arrays)
