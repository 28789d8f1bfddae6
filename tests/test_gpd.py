"""The generalised Pareto pieces behind Threshold.pot/spot (anomark._gpd), pinned by value:
the extreme quantile, the tail probability, the profile likelihood and the maximum-likelihood
fit against an independent maximisation (found thin by mutation testing, issue 17)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import genpareto

from anomark._gpd import GPDFit, _profile, fit_gpd
from anomark.errors import DataError

FITS = [
    GPDFit(level=2.0, gamma=0.0, sigma=1.5, n=1000, n_excess=40),
    GPDFit(level=2.0, gamma=0.3, sigma=1.5, n=1000, n_excess=40),
    GPDFit(level=-1.0, gamma=-0.4, sigma=0.8, n=500, n_excess=25),
]


@pytest.mark.parametrize("fit", FITS, ids=["exponential", "heavy", "bounded"])
def test_quantile_and_tail_match_scipy_and_invert_each_other(fit: GPDFit) -> None:
    frac = fit.n_excess / fit.n
    for q in (1e-2, 1e-3, 1e-6):
        z = fit.quantile(q)
        # P(score > z) = frac * P(excess > z - level) under GPD(gamma, sigma)
        expected = fit.level + float(genpareto.isf(q / frac, c=fit.gamma, scale=fit.sigma))
        assert z == pytest.approx(expected, rel=1e-12)
        assert float(fit.tail(np.array([z]))[0]) == pytest.approx(q, rel=1e-9)
    x = fit.level + np.array([0.0, 0.1, 0.7, 1.9])
    expected_tail = frac * genpareto.sf(x - fit.level, c=fit.gamma, scale=fit.sigma)
    np.testing.assert_allclose(fit.tail(x), expected_tail, rtol=1e-12)
    # at or below the level the probability is the share of excesses
    np.testing.assert_allclose(fit.tail(np.array([fit.level, fit.level - 3.0])), [frac, frac],
                               rtol=1e-15)


def test_quantile_of_the_exponential_tail_by_hand() -> None:
    fit = FITS[0]  # P(score > z) = 0.04 * exp(-(z - 2) / 1.5)
    assert fit.quantile(1e-3) == pytest.approx(2.0 - 1.5 * math.log(1e-3 / 0.04), rel=1e-15)
    assert fit.quantile(0.04) == pytest.approx(2.0, abs=1e-15)


def test_tail_is_zero_beyond_a_bounded_tails_end() -> None:
    fit = FITS[2]  # gamma -0.4, sigma 0.8: excesses end at 0.8 / 0.4 = 2
    end = fit.level + 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fit.tail(np.array([end - 1e-9, end, end + 0.5, end + 1e6]))
    assert out[0] > 0.0
    np.testing.assert_array_equal(out[1:], [0.0, 0.0, 0.0])


def test_tail_does_not_depend_on_the_input_float_width() -> None:
    x = np.array([2.1, 2.7, 3.3], dtype=np.float32)
    np.testing.assert_array_equal(FITS[1].tail(x), FITS[1].tail(x.astype(np.float64)))


@pytest.mark.parametrize("gamma", [1e-12, -1e-12, 1e-11, 3e-9, -3e-9])
def test_a_near_exponential_tail_is_computed_without_cancellation(gamma: float) -> None:
    """Found while checking mutation survivors: ``sigma / gamma * (r ** -gamma - 1)`` lost
    about 1e-8 of relative precision at the gamma of a fitted exponential tail (~1e-9) and
    1e-5 at 1e-12; the series in gamma is exact to rounding here."""
    fit = GPDFit(level=2.0, gamma=gamma, sigma=1.5, n=1000, n_excess=40)
    log_r = math.log(1e-3 * 1000 / 40)
    series = 2.0 - 1.5 * log_r * (1 - gamma * log_r / 2 + (gamma * log_r) ** 2 / 6)
    assert fit.quantile(1e-3) == pytest.approx(series, rel=1e-14)
    y = np.array([0.5, 3.0, 9.0])
    expected = 0.04 * np.exp(-y / 1.5 + gamma * y**2 / (2 * 1.5**2) - gamma**2 * y**3 / 1.5**3 / 3)
    np.testing.assert_allclose(fit.tail(2.0 + y), expected, rtol=1e-13)


def test_a_heavy_tail_at_a_tiny_risk_gives_an_infinite_quantile_not_an_overflow() -> None:
    fit = GPDFit(level=0.0, gamma=2.3, sigma=1.0, n=5000, n_excess=100)
    assert fit.quantile(1e-300) == math.inf
    assert math.isfinite(fit.quantile(1e-10))


def _direct_loglik(y: np.ndarray, gamma: float, sigma: float) -> float:
    return float(genpareto.logpdf(y, c=gamma, scale=sigma).sum())


def test_profile_likelihood_is_the_gpd_likelihood_per_excess() -> None:
    y = np.random.default_rng(2).pareto(3.0, 200)
    y = y / y.max()
    thetas = np.array([-0.9, -0.3, 0.0, 0.25, 1.0, 7.5])
    ll, gamma = _profile(y, thetas)
    for t, got_ll, got_gamma in zip(thetas, ll, gamma, strict=True):
        g = float(np.mean(np.log1p(t * y)))
        s = g / t if t != 0 else float(y.mean())
        assert got_gamma == pytest.approx(g, rel=1e-14, abs=1e-300)
        assert got_ll == pytest.approx(_direct_loglik(y, g, s) / len(y), rel=1e-12)
    # theta = 0 is the exponential: -log(mean) - 1
    assert ll[2] == pytest.approx(-math.log(float(y.mean())) - 1.0, rel=1e-15)
    # outside the support (theta < -1 / max(y)) the likelihood is -inf, never NaN or +inf
    with np.errstate(invalid="ignore"):
        bad, _ = _profile(y, np.array([-2.0, -1.5]))
    np.testing.assert_array_equal(bad, [-np.inf, -np.inf])


def _reference_fit(y: np.ndarray) -> float:
    """The largest GPD log-likelihood over gamma >= -1, by a dense scan of theta = gamma /
    sigma refined with a tight bounded search: independent of fit_gpd's grid and bracket."""
    ymax = float(y.max())

    def loglik(t: float) -> float:
        if t == 0.0:
            return _direct_loglik(y, 0.0, float(y.mean()))
        g = float(np.mean(np.log1p(t * y)))
        return _direct_loglik(y, g, g / t) if g >= -1.0 else -math.inf

    ts = np.unique(np.concatenate((
        -(1.0 - np.logspace(-12, 0, 300, endpoint=False)) / ymax, [0.0],
        np.logspace(-10, 6, 600) / ymax,
    )))
    vals = [loglik(float(t)) for t in ts]
    k = int(np.argmax(vals))
    res = minimize_scalar(lambda t: -loglik(t), method="bounded",
                          bounds=(float(ts[max(k - 1, 0)]), float(ts[min(k + 1, len(ts) - 1)])),
                          options={"xatol": 1e-14 / ymax})
    return max(vals[k], -float(res.fun))


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.exponential(2.0, 300),
        lambda r: r.pareto(2.0, 300),              # gamma 0.5
        lambda r: r.pareto(0.7, 120),              # gamma 1.4
        lambda r: 3.0 * (1.0 - r.random(300) ** 0.7),  # bounded, gamma -0.7
        lambda r: r.exponential(1e-6, 50),         # tiny scale
        lambda r: 1e6 * r.pareto(4.0, 40),         # large scale
    ],
    ids=["exponential", "pareto", "very-heavy", "bounded", "tiny", "huge"],
)
def test_fit_reaches_the_maximum_likelihood(make) -> None:  # type: ignore[no-untyped-def]
    y = make(np.random.default_rng(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # also: no warning from the optimiser's options
        fit = fit_gpd(y)
    best = _reference_fit(y)
    got = _direct_loglik(y, fit.gamma, fit.sigma)
    assert got >= best - 1e-12 * abs(best), (got, best)


def test_fit_stops_at_gamma_minus_one() -> None:
    """Excesses crowded at their maximum would push gamma below -1 (where the likelihood is
    unbounded): the fit keeps gamma = -1 on the profile curve, sigma = -1 / theta with
    mean(log(1 + theta y)) = -1."""
    y = 1.0 - np.random.default_rng(4).random(200) ** 4
    fit = fit_gpd(y)
    assert fit.gamma == pytest.approx(-1.0, abs=1e-12)
    assert fit.gamma >= -1.0 - 1e-15
    assert float(np.mean(np.log1p(-y / fit.sigma))) == pytest.approx(-1.0, abs=1e-9)
    assert fit.sigma > y.max()


def test_excesses_spanning_hundreds_of_orders_of_magnitude_are_fitted() -> None:
    """Found while checking mutation survivors: the squared smallest excess underflowed to 0
    (a ZeroDivisionError) once the excesses spanned more than 162 orders of magnitude. (Beyond
    about 12 orders the search for theta is capped and gamma comes out too small.)"""
    y = np.random.default_rng(1).pareto(0.02, 100)
    assert y.min() / y.max() < 1e-180
    fit = fit_gpd(y)
    assert math.isfinite(fit.gamma) and fit.gamma > 0.0 and fit.sigma > 0.0


def test_fit_keeps_level_and_counts() -> None:
    y = np.random.default_rng(5).exponential(size=30)
    plain = fit_gpd(y)
    assert (plain.level, plain.n, plain.n_excess) == (0.0, 30, 30)
    tagged = fit_gpd(y, level=2.5, n=1000)
    assert (tagged.level, tagged.n, tagged.n_excess) == (2.5, 1000, 30)
    assert (tagged.gamma, tagged.sigma) == (plain.gamma, plain.sigma)


def test_fit_does_not_depend_on_the_input_float_width() -> None:
    y32 = np.random.default_rng(6).pareto(3.0, 100).astype(np.float32) + np.float32(0.01)
    a = fit_gpd(y32)
    b = fit_gpd(y32.astype(np.float64))
    assert (a.gamma, a.sigma) == (b.gamma, b.sigma)


def test_fit_needs_ten_positive_finite_excesses() -> None:
    ten = np.arange(1.0, 11.0)
    assert fit_gpd(ten).n_excess == 10
    with pytest.raises(DataError, match=r"^a peaks-over-threshold fit needs at least 10 scores "
                                        r"above the initial level, got 9; give more reference "
                                        r"scores or a lower level$"):
        fit_gpd(ten[:9])
    for bad in (0.0, -1.0, np.nan, np.inf):
        y = ten.copy()
        y[3] = bad
        with pytest.raises(DataError, match=r"^GPD excesses must be positive finite numbers$"):
            fit_gpd(y)


def _loglik_at(y: np.ndarray, theta: float) -> float:
    """The GPD log-likelihood maximised over sigma at theta = gamma / sigma."""
    if theta == 0.0:
        return _direct_loglik(y, 0.0, float(y.mean()))
    g = float(np.mean(np.log1p(theta * y)))
    return _direct_loglik(y, g, g / theta)


def _grimshaw_mle(y: np.ndarray) -> tuple[float, float]:
    """The maximum-likelihood (gamma, sigma) over gamma >= -1 by Grimshaw's route (1993): an
    interior maximum solves u(theta) v(theta) = 1 with u = mean(1 / (1 + theta y)) and
    v = 1 + mean(log(1 + theta y)), the sign of the profile likelihood's slope; its roots
    are found to rounding by a root finder on a dense grid of brackets (a maximiser only
    pins the argmax of a flat function to about the square root of the machine epsilon),
    then compared with theta = 0 (the exponential) and the gamma = -1 boundary."""
    from scipy.optimize import brentq

    def slope_sign(t: float) -> float:
        z = t * y
        return float(np.mean(1.0 / (1.0 + z)) * (1.0 + np.mean(np.log1p(z))) - 1.0)

    ymax = float(y.max())
    lo = (-1.0 + 1e-13) / ymax
    candidates = [0.0]
    if float(np.mean(np.log1p(lo * y))) < -1.0:  # the boundary gamma = -1
        lo = brentq(lambda t: float(np.mean(np.log1p(t * y))) + 1.0, lo, -0.5 / ymax,
                    xtol=1e-300, rtol=1e-15)
        while float(np.mean(np.log1p(lo * y))) < -1.0:
            lo = float(np.nextafter(lo, 0.0))
        candidates.append(lo)
    grid = np.concatenate((
        (-1.0 + np.geomspace(1e-13, 0.5, 1500)) / ymax, -np.geomspace(1e-10, 0.5, 1500) / ymax,
        np.geomspace(1e-10, 1e14, 3000) / ymax,
    ))
    grid = np.unique(grid[grid >= lo])
    signs = np.array([slope_sign(float(t)) for t in grid])
    for i in np.flatnonzero((signs[:-1] > 0) & (signs[1:] < 0)):
        candidates.append(brentq(slope_sign, grid[i], grid[i + 1], xtol=1e-300, rtol=1e-15))
    best = max(candidates, key=lambda t: _loglik_at(y, t))
    if best == 0.0:
        return 0.0, float(y.mean())
    g = float(np.mean(np.log1p(best * y)))
    return g, g / best


@pytest.mark.parametrize(
    ("seed", "make"),
    [
        (21, lambda r: r.exponential(2.0, 300)),
        (21, lambda r: r.pareto(2.0, 300)),
        (0, lambda r: r.pareto(0.3, 400)),  # gamma ~3, maximum in the top cell of the search
        (21, lambda r: r.pareto(0.3, 400) * 1e-5),
        (21, lambda r: r.weibull(2.66, 30)),  # light tail, gamma ~ -0.2
        (21, lambda r: r.gamma(0.5, 1.0, 100)),
        (21, lambda r: 3.0 * (1.0 - r.random(50) ** 0.7)),
        (21, lambda r: r.exponential(1.0, 10)),  # the fewest excesses a fit takes
    ],
    ids=["exponential", "pareto", "very-heavy-top", "very-heavy-tiny", "weibull", "gamma",
         "bounded", "ten"],
)
def test_fit_solves_the_likelihood_equation(seed, make) -> None:  # type: ignore[no-untyped-def]
    """fit_gpd against the maximum-likelihood estimate found independently, to the
    precision a bounded maximiser reaches (fitted gamma within 5e-7, sigma within 5e-7
    relative: measured up to 1.3e-7 over 48 varied samples)."""
    y = make(np.random.default_rng(seed))
    gamma, sigma = _grimshaw_mle(y)
    fit = fit_gpd(y)
    assert fit.gamma == pytest.approx(gamma, rel=0.0, abs=5e-7)
    assert fit.sigma == pytest.approx(sigma, rel=5e-7)


def test_an_exactly_exponential_maximum_gives_the_exponential_tail() -> None:
    """Sixteen excesses of 1 and one of 20/3: mean 4/3 and mean square 32/9 = 2 * mean ** 2,
    so the profile likelihood's slope vanishes at theta = 0, and it is the maximum: the fit
    is the exponential tail gamma = 0 with sigma the mean excess (the quantile then takes
    its exponential form)."""
    y = np.array([1.0] * 16 + [20.0 / 3.0])
    thetas = np.concatenate((-np.geomspace(1e-5, 0.999, 200), np.geomspace(1e-5, 1e3, 200)))
    thetas = thetas / y.max()  # within the support: theta > -1 / max(y)
    assert all(_loglik_at(y, float(t)) < _loglik_at(y, 0.0) for t in thetas)
    fit = fit_gpd(y)
    assert fit.gamma == pytest.approx(0.0, abs=1e-8)
    assert fit.sigma == pytest.approx(4.0 / 3.0, rel=1e-8)


def test_excesses_whose_ratio_underflows_to_zero_are_fitted() -> None:
    """The smallest excess over the largest is below the smallest float (1e-330 here): the
    search bound for theta cannot be computed from it and is capped instead."""
    y = np.concatenate((np.random.default_rng(8).pareto(1.0, 30), [1e-320, 1e10]))
    assert y.min() / y.max() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_gpd(y)
    assert math.isfinite(fit.gamma) and fit.gamma > 0.0 and fit.sigma > 0.0


def test_profile_at_the_support_end_is_minus_infinity_without_an_invalid_value_warning() -> None:
    """At theta = -1 / max(y) the largest excess sits on the tail's end: log(1 + theta y) is
    -inf there (numpy's divide-by-zero, silenced by the caller), and the likelihood is
    -inf, not the NaN of -log(inf) - (1 - inf), with no invalid-value warning."""
    y = np.array([0.25, 0.5, 1.0])
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        ll, gamma = _profile(y, np.array([-1.0, -0.5]))
    assert ll[0] == -np.inf and gamma[0] == -np.inf
    assert ll[1] == pytest.approx(_loglik_at(y, -0.5) / 3, rel=1e-12)
