"""Extreme-value thresholds: POT and SPOT/DSPOT (Siffer et al., KDD 2017)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from anomark import Threshold
from anomark._gpd import fit_gpd
from anomark.errors import ConfigurationError, DataError, NotFittedError

Sampler = Callable[[np.random.Generator, int], np.ndarray]

# (name, sampler, exact (1 - q) quantile as a function of q)
DISTRIBUTIONS: list[tuple[str, Sampler, Callable[[float], float]]] = [
    ("exponential", lambda r, n: r.exponential(2.0, n), lambda q: -2.0 * math.log(q)),
    # Lomax (numpy's pareto) with shape 3: P(X > x) = (1 + x) ** -3
    ("pareto", lambda r, n: r.pareto(3.0, n), lambda q: q ** (-1 / 3) - 1.0),
    ("gaussian", lambda r, n: r.normal(0.0, 1.0, n),
     lambda q: float(__import__("scipy.stats", fromlist=["norm"]).norm.isf(q))),
]


@pytest.mark.parametrize(
    ("name", "sample", "exact"), DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS]
)
@pytest.mark.parametrize("q", [1e-3, 1e-4])
def test_pot_exceedance_rate_matches_the_risk(
    name: str, sample: Sampler, exact: Callable[[float], float], q: float
) -> None:
    """Fitted on 20,000 scores, POT's threshold is exceeded by about a fraction q of new
    scores from the same distribution (the 1e-4 threshold lies beyond most reference scores,
    where an empirical quantile has nothing to go on)."""
    rates, rel_errors = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        rule = Threshold.pot(q=q, level=0.98).fit(sample(rng, 20_000))
        rates.append(float((sample(rng, 2_000_000) > rule.value_).mean()))
        rel_errors.append(abs(rule.value_ - exact(q)) / exact(q))
    assert q / 2 < float(np.median(rates)) < 2 * q, rates
    assert all(q / 5 < r < 5 * q for r in rates), rates
    assert float(np.median(rel_errors)) < (0.1 if q == 1e-3 else 0.2), rel_errors


def test_gpd_fit_recovers_known_shapes() -> None:
    rng = np.random.default_rng(0)
    u = rng.random(20_000)
    for gamma, sigma in [(0.0, 2.0), (0.4, 1.0), (-0.3, 1.5)]:
        y = -sigma * np.log(u) if gamma == 0 else sigma / gamma * (u ** -gamma - 1.0)
        fit = fit_gpd(y)
        assert fit.gamma == pytest.approx(gamma, abs=0.03)
        assert fit.sigma == pytest.approx(sigma, rel=0.05)


def test_pot_fits_the_excesses_by_maximum_likelihood() -> None:
    rng = np.random.default_rng(1)
    scores = rng.pareto(2.5, 10_000)
    rule = Threshold.pot(q=1e-3, level=0.95).fit(scores)
    u = float(np.sort(scores)[int(0.95 * len(scores))])
    y = scores[scores > u] - u

    def loglik(g: float, s: float) -> float:
        return float(-len(y) * math.log(s) - (1 + 1 / g) * np.log1p(g * y / s).sum())

    best = loglik(rule.gamma_, rule.sigma_)
    for dg, ds in [(0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02), (0.02, 0.02), (-0.02, -0.02)]:
        assert loglik(rule.gamma_ + dg, rule.sigma_ * (1 + ds)) < best


@pytest.mark.parametrize(
    ("scores", "rule", "match"),
    [
        (np.ones(5000), Threshold.pot(), "constant scores"),
        (np.arange(300.0), Threshold.pot(), "at least 10 scores above the initial level"),
        (np.arange(300.0), Threshold.spot(depth=295), "needs more than 305 reference scores"),
        (np.array([1.0, np.nan] * 500), Threshold.pot(), "NaN or infinite"),
    ],
)
def test_evt_rules_reject_unusable_references(
    scores: np.ndarray, rule: Threshold, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        rule.fit(scores)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Threshold.pot(q=0.05, level=0.98), "must be smaller than the share of scores"),
        (lambda: Threshold.pot(q=0.0), r"q must be in \(0, 1\)"),
        (lambda: Threshold.pot(level=1.0), r"level must be in \(0, 1\)"),
        (lambda: Threshold.spot(depth=0), "depth must be an integer >= 1 or None"),
        (lambda: Threshold.spot(depth=2.5), "depth must be an integer"),  # type: ignore[arg-type]
        (lambda: Threshold("pot", q=1e-3, risk=1), "unknown parameter"),
        (lambda: Threshold("mean_std", 3.0, k=2), "takes one parameter"),
    ],
)
def test_evt_parameters_are_checked(make: Callable[[], Threshold], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        make()


# ---------------------------------------------------------------------- text and dict forms
@pytest.mark.parametrize("rule", [
    Threshold.pot(),
    Threshold.pot(q=0.1 + 0.2 - 0.29, level=0.95),
    Threshold.spot(q=1e-3, level=0.99, depth=10),
    Threshold.spot(),
])
def test_evt_text_round_trip_is_exact(rule: Threshold) -> None:
    assert Threshold.parse(str(rule)) == rule
    assert Threshold.parse(str(rule)).params == rule.params


def test_evt_parse_spellings_and_errors() -> None:
    assert Threshold.parse("pot:q=1e-4,level=0.98") == Threshold.pot(1e-4, 0.98)
    assert Threshold.parse("POT:1e-3") == Threshold.pot(q=1e-3)
    assert Threshold.parse("spot:depth=none") == Threshold.spot()
    assert Threshold.parse("spot: level = 0.9 , depth = 5") == Threshold.spot(level=0.9, depth=5)
    with pytest.raises(ConfigurationError, match="unknown parameter 'risk' for pot"):
        Threshold.parse("pot:risk=0.1")
    with pytest.raises(ConfigurationError, match="depth must be an integer or none"):
        Threshold.parse("spot:depth=3.5")
    with pytest.raises(ConfigurationError, match="level in 'pot:level=high' must be a number"):
        Threshold.parse("pot:level=high")
    with pytest.raises(ConfigurationError, match="q given twice"):
        Threshold.parse("pot:q=1e-3,q=1e-4")


def test_fitted_spot_survives_a_json_round_trip_and_continues_identically() -> None:
    rng = np.random.default_rng(3)
    rule = Threshold.spot(q=1e-3, depth=20).fit(rng.exponential(size=3000))
    rule.update(rng.exponential(size=500))
    copy = Threshold.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert copy == rule and copy.value_ == rule.value_
    more = rng.exponential(size=800)
    more[400] = 40.0
    np.testing.assert_array_equal(copy.update(more), rule.update(more))
    assert copy == rule
    fitted_pot = Threshold.pot().fit(rng.exponential(size=3000))
    assert Threshold.from_dict(json.loads(json.dumps(fitted_pot.to_dict()))) == fitted_pot
    bad = rule.to_dict()
    bad["value"] = bad["value"] + 1.0
    with pytest.raises(ConfigurationError, match="spot state gives the threshold"):
        Threshold.from_dict(bad)


# ---------------------------------------------------------------------- SPOT / DSPOT streams
def test_spot_flags_spikes_at_about_the_risk_rate() -> None:
    rng = np.random.default_rng(4)
    rule = Threshold.spot(q=1e-3).fit(rng.exponential(size=5000))
    stream = rng.exponential(size=50_000)
    stream[[1000, 20_000, 40_000]] = 40.0
    flags = rule.update(stream)
    assert flags[[1000, 20_000, 40_000]].all()
    assert 10 < int(flags.sum()) < 150  # about 1e-3 x 50,000 false alarms + 3 spikes
    # flagged scores are not learned (Siffer et al.), which trims the tail the GPD sees: the
    # threshold drifts a little below the exact quantile over a long normal stream
    assert 0.8 * -math.log(1e-3) < rule.value_ < 1.05 * -math.log(1e-3)


def test_only_spot_streams_and_apply_needs_fit() -> None:
    with pytest.raises(NotFittedError):
        Threshold.spot().apply(np.ones(3))
    with pytest.raises(ConfigurationError, match="does not learn from a stream"):
        Threshold.pot().fit(np.random.default_rng(0).exponential(size=2000)).update(np.ones(3))
    with pytest.raises(ConfigurationError, match="no stream calibration"):
        _ = Threshold.pot().calibration_size


@pytest.mark.parametrize("depth", [None, 10])
def test_unfitted_spot_calibrates_itself_on_its_first_scores(depth: int | None) -> None:
    rng = np.random.default_rng(8)
    stream = rng.exponential(size=4000)
    stream[3000] = 50.0
    cold = Threshold.spot(q=1e-3, depth=depth)
    need = cold.calibration_size
    assert need == 1000 + (depth or 0)
    parts = [cold.update_with_thresholds(p) for p in np.split(stream, [10, 500, need + 3])]
    flags = np.concatenate([f for f, _ in parts])
    thresholds = np.concatenate([t for _, t in parts])
    assert not flags[:need].any() and np.isinf(thresholds[:need]).all()
    warm = Threshold.spot(q=1e-3, depth=depth).fit(stream[:need])
    np.testing.assert_array_equal(flags[need:], warm.update(stream[need:]))
    assert flags[3000] and cold == warm
    # the scores collected so far survive a save
    half = Threshold.spot(q=1e-3, depth=depth)
    half.update(stream[:700])
    back = Threshold.from_dict(json.loads(json.dumps(half.to_dict())))
    np.testing.assert_array_equal(back.update(stream[700:]), half.update(stream[700:]))


@pytest.mark.parametrize("depth", [None, 15])
def test_spot_is_causal_and_chunking_free(depth: int | None) -> None:
    rng = np.random.default_rng(5)
    ref = rng.exponential(size=3000)
    stream = rng.exponential(size=4000)
    stream[::500] += 20.0
    whole = Threshold.spot(q=1e-3, depth=depth).fit(ref).update(stream)
    for cut in (1, 777, 3000):
        future = stream.copy()
        future[cut:] = rng.exponential(5.0, len(stream) - cut)
        got = Threshold.spot(q=1e-3, depth=depth).fit(ref).update(future)
        np.testing.assert_array_equal(got[:cut], whole[:cut])
    rule = Threshold.spot(q=1e-3, depth=depth).fit(ref)
    parts = [rule.update(p) for p in np.split(stream, [5, 900, 901, 2500])]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_spot_apply_does_not_learn_and_keeps_the_index() -> None:
    rng = np.random.default_rng(6)
    rule = Threshold.spot(q=1e-3).fit(rng.exponential(size=3000))
    before = rule.to_dict()
    index = pd.date_range("2024", periods=1000, freq="min")
    scores = pd.Series(rng.exponential(size=1000), index=index)
    flags = rule.apply(scores)
    assert rule.to_dict() == before
    assert flags.index.equals(index) and flags.dtype == bool
    np.testing.assert_array_equal(flags.to_numpy(), rule.update(scores).to_numpy())


def test_dspot_follows_drift_where_spot_does_not() -> None:
    rng = np.random.default_rng(7)
    n = 6000
    drift = np.linspace(0.0, 8.0, n)
    scores = drift + rng.normal(0.0, 0.5, n)
    spot = Threshold.spot(q=1e-3).fit(scores[:2000]).update(scores[2000:])
    dspot = Threshold.spot(q=1e-3, depth=30).fit(scores[:2000]).update(scores[2000:])
    assert spot[-1000:].mean() > 0.9  # SPOT flags the drifted level
    assert dspot.mean() < 0.01        # DSPOT measures against the recent mean
    jump = scores.copy()
    jump[4000] += 6.0
    assert Threshold.spot(q=1e-3, depth=30).fit(jump[:2000]).update(jump[2000:])[2000]
