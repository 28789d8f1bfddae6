"""Generalised Pareto fits for peaks-over-threshold (Siffer et al., KDD 2017): one home for the
maximum-likelihood fit, the extreme quantile and the tail probability.

The excesses ``y = x - u`` of scores ``x`` over a high level ``u`` are modelled as a generalised
Pareto distribution ``GPD(gamma, sigma)``; with ``n`` scores of which ``n_excess`` exceed ``u``,
the score exceeded with probability ``q`` is

    ``z_q = u + sigma / gamma * ((q * n / n_excess) ** -gamma - 1)``

(``u - sigma * log(q n / n_excess)`` at ``gamma = 0``).

The fit maximises the profile log-likelihood over ``theta = gamma / sigma`` (Grimshaw's
reduction: for a fixed ``theta`` the best ``gamma`` is ``mean(log(1 + theta y))``), on a grid
refined by a bounded scalar search, with ``gamma >= -1`` (below that the likelihood is
unbounded and the maximum-likelihood estimate does not exist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anomark.errors import DataError

__all__ = ["GPDFit", "fit_gpd"]

#: Fewest excesses a fit accepts.
MIN_EXCESSES = 10
_GAMMA_MIN = -1.0


@dataclass(frozen=True)
class GPDFit:
    """A GPD fitted to the excesses over ``level`` of ``n`` scores (``n_excess`` of them)."""

    level: float
    gamma: float
    sigma: float
    n: int
    n_excess: int

    def quantile(self, q: float) -> float:
        """The score exceeded with probability ``q`` (``q < n_excess / n``)."""
        r = q * self.n / self.n_excess
        if abs(self.gamma) < 1e-12:
            return self.level - self.sigma * math.log(r)
        try:  # r ** -gamma - 1 without the cancellation of a near-exponential tail
            growth = math.expm1(-self.gamma * math.log(r))
        except OverflowError:  # a heavy tail at a tiny risk: beyond float64 (the caller refuses)
            return math.inf
        return self.level + self.sigma / self.gamma * growth

    def tail(self, x: np.ndarray) -> np.ndarray:
        """``P(score > x)`` for ``x >= level`` (0 beyond a bounded tail's end)."""
        y = np.maximum(np.asarray(x, dtype=np.float64) - self.level, 0.0)
        frac = self.n_excess / self.n
        if abs(self.gamma) < 1e-12:
            return frac * np.exp(-y / self.sigma)
        # (1 + z) ** (-1 / gamma), accurate for a tiny gamma; a bounded tail (gamma < 0) ends
        # at z = -1, where the log is -inf and the probability 0
        z = np.maximum(self.gamma * y / self.sigma, -1.0)
        with np.errstate(divide="ignore"):
            return frac * np.exp(-np.log1p(z) / self.gamma)


def _profile(y: np.ndarray, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profile log-likelihood (per excess) and gamma at each theta (theta = 0: exponential)."""
    thetas = np.atleast_1d(thetas)
    logs = np.log1p(np.multiply.outer(thetas, y))  # (k, m)
    gamma = logs.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(thetas != 0, gamma / np.where(thetas != 0, thetas, 1.0), y.mean())
        ll = -np.log(sigma) - (1.0 + gamma)
    ll = np.where(np.isfinite(ll) & (sigma > 0), ll, -np.inf)
    return ll, gamma


def fit_gpd(excesses: np.ndarray, *, level: float = 0.0, n: int | None = None) -> GPDFit:
    """Maximum-likelihood GPD fit of positive excesses.

    Parameters
    ----------
    excesses : numpy.ndarray
        The positive excesses over ``level``.
    level : float
        The level they exceed (kept in the result).
    n : int, optional
        Number of scores the excesses come from (default: the number of excesses).

    Raises
    ------
    DataError
        Fewer than 10 excesses, or excesses that are not positive and finite.
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(excesses, dtype=np.float64)
    m = len(y)
    if m < MIN_EXCESSES:
        raise DataError(
            f"a peaks-over-threshold fit needs at least {MIN_EXCESSES} scores above the initial "
            f"level, got {m}; give more reference scores or a lower level"
        )
    if not np.isfinite(y).all() or (y <= 0).any():
        raise DataError("GPD excesses must be positive finite numbers")
    # the excesses' scale does not change gamma: fit on y / max(y) (theta scales inversely)
    scale = float(y.max())
    y = y / scale
    ymin, ymean = float(y.min()), float(y.mean())
    lo = -1.0 + 1e-9  # theta > -1 / max(y) = -1
    # gamma(theta) increases with theta: keep gamma >= -1
    _, g_lo = _profile(y, np.array([lo]))
    if g_lo[0] < _GAMMA_MIN:
        a, b = lo, 0.0
        for _ in range(80):
            mid = 0.5 * (a + b)
            if _profile(y, np.array([mid]))[1][0] < _GAMMA_MIN:
                a = mid
            else:
                b = mid
        lo = b
    # Grimshaw's upper bound, at least 1 and at most 1e12 (divided twice: the square of a
    # ymin below 1e-162 underflows to 0; a ymin below 1e-308 is 0 itself)
    hi = 2.0 * (ymean - ymin) / ymin / ymin if ymin > 0.0 else math.inf
    hi = min(max(hi, 1.0), 1e12)
    # theta grid: log-spaced on both sides of 0, and dense near the lower end -1
    neg = np.concatenate((
        -np.logspace(-8, math.log10(-lo), 40),
        -(1.0 - np.exp(np.linspace(math.log(1.0 + lo), math.log(0.5), 20))),
    ))
    pos = np.logspace(-8, math.log10(hi), 60)
    thetas = np.unique(np.concatenate((neg[neg >= lo], [0.0], pos)))
    ll, _ = _profile(y, thetas)
    k = int(np.argmax(ll))
    best_theta, best_ll = float(thetas[k]), float(ll[k])
    a = float(thetas[max(k - 1, 0)])
    b = float(thetas[min(k + 1, len(thetas) - 1)])
    if b > a:
        res = minimize_scalar(
            lambda t: -float(_profile(y, np.array([t]))[0][0]),
            bounds=(a, b), method="bounded", options={"xatol": 1e-10 * max(1.0, abs(b - a))},
        )
        if res.success and -float(res.fun) > best_ll:
            best_theta, best_ll = float(res.x), -float(res.fun)
    if best_theta == 0.0:
        gamma, sigma = 0.0, ymean
    else:
        gamma = float(np.mean(np.log1p(best_theta * y)))
        sigma = gamma / best_theta
    if abs(gamma) < 1e-12:
        gamma, sigma = 0.0, ymean
    return GPDFit(level=float(level), gamma=gamma, sigma=sigma * scale,
                  n=int(n if n is not None else m), n_excess=m)


# ---------------------------------------------------------------------- SPOT / DSPOT
@dataclass
class SpotState:
    """The state of a streaming peaks-over-threshold rule (Siffer et al. 2017, Alg. 1 and 2).

    ``level`` is the initial threshold ``t`` (fixed), ``peaks`` the excesses over it seen so
    far, ``n`` the number of scores learned (alarms are not learned), ``window`` the last
    ``depth`` learned scores (DSPOT; ``None`` for SPOT), ``fit`` the current GPD.
    """

    level: float
    peaks: np.ndarray
    n: int
    window: np.ndarray | None
    fit: GPDFit

    def local_mean(self) -> float:
        return float(self.window.mean()) if self.window is not None else 0.0


def _drift_free(scores: np.ndarray, depth: int | None) -> np.ndarray:
    """DSPOT's variable: each score minus the mean of the ``depth`` scores before it."""
    if depth is None:
        return scores
    csum = np.concatenate(([0.0], np.cumsum(scores)))
    means = (csum[depth:-1] - csum[:-depth - 1]) / depth
    return scores[depth:] - means


def spot_calibrate(scores: np.ndarray, level: float, depth: int | None) -> SpotState:
    """SPOT's initialisation on a batch (DSPOT: on the scores minus their moving mean).

    Raises
    ------
    DataError
        Too few scores for the depth, constant scores (no excess over the level), fewer than
        10 excesses.
    """
    if depth is not None and len(scores) <= depth + MIN_EXCESSES:
        raise DataError(
            f"DSPOT with depth={depth} needs more than {depth + MIN_EXCESSES} reference scores, "
            f"got {len(scores)}"
        )
    x = _drift_free(scores, depth)
    u, excesses = _level_and_excesses(x, level)
    fit = fit_gpd(excesses, level=u, n=len(x))
    window = scores[-depth:].copy() if depth is not None else None
    return SpotState(level=u, peaks=excesses, n=len(x), window=window, fit=fit)


def _level_and_excesses(x: np.ndarray, level: float) -> tuple[float, np.ndarray]:
    if float(x.min()) == float(x.max()):
        raise DataError(
            "constant scores: there is no tail to fit a peaks-over-threshold rule to (every "
            f"score is {float(x[0]):.6g}); use Threshold.fixed or more varied reference scores"
        )
    srt = np.sort(x)
    u = float(srt[min(int(level * len(srt)), len(srt) - 1)])  # SPOT's order statistic
    excesses = x[x > u] - u
    if len(excesses) < MIN_EXCESSES:
        raise DataError(
            f"a peaks-over-threshold fit needs at least {MIN_EXCESSES} scores above the initial "
            f"level (the {level:g} quantile, {u:.6g}), got {len(excesses)} of {len(x)} scores; "
            f"give at least {math.ceil(MIN_EXCESSES / max(1.0 - level, 1e-12))} varied "
            "reference scores or a lower level"
        )
    return u, excesses


def spot_extreme(state: SpotState, q: float) -> float:
    """The current alarm threshold on the (drift-free) variable."""
    return _extreme(state.level, state.fit, state.n, len(state.peaks), q)


def _extreme(level: float, fit: GPDFit, n: int, n_excess: int, q: float) -> float:
    """The score exceeded with probability ``q`` when ``n_excess`` of ``n`` scores exceed
    ``level`` (the level itself once ``q >= n_excess / n``)."""
    if q * n / n_excess >= 1.0:
        return level
    return GPDFit(level, fit.gamma, fit.sigma, n, n_excess).quantile(q)


def spot_run(
    state: SpotState, scores: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray, SpotState]:
    """Run SPOT/DSPOT over ``scores``: flags, the threshold each score was compared with, and
    the new state (the input state is not modified).

    Per score (Siffer et al., Alg. 1; DSPOT compares ``score - local mean`` instead): above
    the extreme quantile → alarm (not learned); above the initial level → a new peak and the
    GPD is refitted; otherwise only the count grows. The quantile depends on that count too,
    so it is recomputed after every learned score (Alg. 1 does so only after a peak): the next
    score then meets the threshold the state reports (``Threshold.value_``), and a stream cut
    into chunks gives exactly the flags of the whole stream.
    """
    peaks = list(state.peaks)
    n = state.n
    window = None if state.window is None else state.window.copy()
    depth = None if window is None else len(window)
    fit = state.fit
    zq = spot_extreme(state, q)
    flags = np.zeros(len(scores), dtype=bool)
    thresholds = np.empty(len(scores))
    wsum = float(window.sum()) if window is not None else 0.0
    pos = 0
    for i, s in enumerate(scores.tolist()):
        mean = wsum / depth if window is not None and depth else 0.0
        x = s - mean
        thresholds[i] = zq + mean
        if x > zq:
            flags[i] = True
            continue
        n += 1
        if x > state.level:
            peaks.append(x - state.level)
            fit = fit_gpd(np.asarray(peaks), level=state.level, n=n)
        zq = _extreme(state.level, fit, n, len(peaks), q)
        if window is not None and depth:
            wsum += s - window[pos]
            window[pos] = s
            pos = (pos + 1) % depth
    if window is not None and depth:
        window = np.roll(window, -pos)  # oldest first again
    new = SpotState(state.level, np.asarray(peaks, dtype=np.float64), n, window, fit)
    return flags, thresholds, new
