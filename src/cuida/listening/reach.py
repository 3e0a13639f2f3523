"""Reach forecast: the final number of reshares of a post, with an 80% interval, from what has been
seen so far.

    forecast([(600, 6), (1800, 21), (3600, 58)], followers=2100)        # cumulative counts
    forecast_events([(35.0, 120), (70.5, 3400), ...], followers=2100, now=600)   # per reshare
    forecast(events_list, followers=2100, now=600, events=True)          # the same

Model (argued in docs/reach-forecast.md): a SEISMIC-style self-exciting point process (Zhao et al.,
KDD 2015) -- every post exposes its author's followers through a power-law memory kernel (flat for 5
minutes, then decaying with exponent 1 + 0.242) and each exposed follower reshares with an
infectiousness `p` -- gives, at time `now`,

* the exposure so far `E` (kernel-weighted followers) and `p_glob = reshares / E`;
* a recent infectiousness `p_loc` (reshares over the exposure gained in the last half of the
  elapsed time), which falls when the post is losing steam;
* the exposure still to come within the horizon `F` and the expected followers of a future
  resharer, hence the branching ratio `m = p_loc * mean weight`.

Those become seven features (log-ratios, elapsed time, size) of a learned correction: linear
quantile regressions (10%, 50%, 90%) of log((final + 1) / (observed + 1)), fitted ONLY on synthetic
cascades that the project generates itself (`cuida.listening.synthetic`), never on research data,
and shipped as the coefficients below. `python -m cuida.listening.reach` refits and prints them.

Counts only (no per-reshare times): the reshares between two snapshots are spread uniformly over the
interval and every resharer is assumed to have the prior mean follower count, so the same features
are computed in closed form from the kernel's integral; that mode has its own coefficients.

Counts are reshares (the original post excluded); `final` is the forecast total within 7 days."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

THETA = 0.242  # power-law exponent of the memory kernel (SEISMIC)
S0 = 300.0  # seconds the kernel stays flat (SEISMIC: 5 minutes)
HORIZON = 7 * 86400.0  # the forecast is of reshares within 7 days of the post
N_BAR = 1000.0  # prior mean followers of a resharer; weights are in these units
DEFAULT_ROOT_FOLLOWERS = 1000.0  # used when the author's follower count is unknown
QUANTILES = (0.1, 0.5, 0.9)
MODEL_NAME = "seismic-powerlaw+synthetic-quantile-correction/v1"

# Linear quantile-regression coefficients per mode and quantile, over the features of `_features`
# (intercept first). Fitted by `fit_correction()` (4000 cascades of `synthetic.population`, seed 7,
# four observation times each); see docs/reach-forecast.md.
Coefficients = dict[str, dict[float, tuple[float, ...]]]
COEFFICIENTS: Coefficients = {
    "events": {
        0.1: (-0.0619, 0.8053, -0.5824, -0.0047, 0.0023, 0.0172, 0.0087),
        0.5: (-0.4845, 1.4826, -0.066, -0.016, 0.1234, 0.0478, 0.0617),
        0.9: (-0.6208, 0.4014, 2.0532, -0.0485, 0.1499, 0.0906, 0.1783),
    },
    "counts": {
        0.1: (-0.0224, 0.3313, -0.2691, -0.0013, -0.0091, 0.0079, -0.0248),
        0.5: (-0.5905, 1.995, -0.4967, -0.0045, 0.1439, 0.0315, -0.3705),
        0.9: (-0.742, 0.7127, 1.8618, -0.0402, 0.1774, 0.0816, -0.1452),
    },
}
FEATURES = ("intercept", "log1p_local", "log1p_global", "branching", "log_hours", "log_observed", "log_decay")


class Forecast(BaseModel):
    """A forecast of the final number of reshares (within 7 days of the post)."""

    model_config = ConfigDict(frozen=True)

    final: float  # median forecast
    low: float  # 10th percentile: with `high`, the 80% interval
    high: float  # 90th percentile
    model: str
    mode: Literal["events", "counts"]
    at: float  # seconds since the post at which the forecast is made
    observed: int  # reshares seen by `at`
    growth_rate: float  # reshares per hour over the last half of the elapsed time
    branching: float  # estimated reshares triggered per future resharer (>= 1: still spreading)
    peak_passed: bool  # the reshare rate is falling


# --- the kernel ---------------------------------------------------------------------------------


def _phi_cdf(s: np.ndarray) -> np.ndarray:
    """Share of a post's kernel mass spent after `s` seconds (0 for s <= 0)."""
    s = np.maximum(s, 0.0)
    flat = (THETA / (1 + THETA)) * (s / S0)
    tail = 1.0 - (1.0 / (1 + THETA)) * np.power(np.maximum(s, S0) / S0, -THETA)
    return np.where(s <= S0, flat, tail)


def _cdf(s: float) -> float:
    """Scalar `_phi_cdf` (pure Python: faster than numpy for a handful of snapshots)."""
    if s <= 0.0:
        return 0.0
    if s <= S0:
        return (THETA / (1 + THETA)) * (s / S0)
    return 1.0 - (1.0 / (1 + THETA)) * (s / S0) ** -THETA


_HEAD = (THETA / (1 + THETA)) * S0 / 2
_TAIL = S0**THETA / ((1 + THETA) * (1 - THETA))


def _cdf_integral(s: float) -> float:
    """Integral of the kernel's cdf from 0 to `s`."""
    if s <= 0.0:
        return 0.0
    if s <= S0:
        return (THETA / (1 + THETA)) * s * s / (2 * S0)
    return _HEAD + (s - S0) - _TAIL * (s ** (1 - THETA) - S0 ** (1 - THETA))


class _Blocks:
    """Reshares as blocks: `k` reshares of weight `w` each, spread uniformly over [a, b] (a point when
    a == b). The original post is a point block at 0 that exposes its followers but counts no reshare.
    Per-reshare data are point blocks
    (numpy, vectorised); snapshots give a handful of interval blocks (plain Python, for speed)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, k: np.ndarray, w: np.ndarray) -> None:
        self.a, self.b, self.k, self.w = a, b, k, w
        self.exposing = k.copy()
        self.exposing[0] = 1.0  # the original post
        self.all_points = bool(np.all(b <= a))
        self.rows = list(zip(a.tolist(), b.tolist(), self.exposing.tolist(), w.tolist(), strict=True))

    def exposure(self, x: float) -> float:
        """Kernel-weighted followers exposed by time x: sum over reshares of weight * cdf(x - t)."""
        if self.all_points:
            return float(np.sum(self.exposing * self.w * _phi_cdf(x - self.a)))
        total = 0.0
        for a, b, k, w in self.rows:
            if a >= x or k == 0.0:
                continue
            if b <= a:
                total += k * w * _cdf(x - a)
            else:
                upper = min(b, x)
                total += k * w * (_cdf_integral(x - a) - _cdf_integral(x - upper)) / (b - a)
        return total

    def count_before(self, x: float) -> float:
        if self.all_points:
            return float(np.sum(self.k[self.a <= x]))
        total = 0.0
        for a, b, k, _ in self.rows[1:]:
            if b <= a:
                total += k if a <= x else 0.0
            else:
                total += k * min(max((x - a) / (b - a), 0.0), 1.0)
        return total


def _features(
    blocks: _Blocks, observed: float, now: float, mean_weight: float
) -> tuple[np.ndarray, dict[str, float]]:
    t = max(now, 1.0)
    e_now = blocks.exposure(t)
    e_half = blocks.exposure(t / 2)
    e_h = blocks.exposure(HORIZON)
    future = max(e_h - e_now, 0.0)
    r_half = observed - blocks.count_before(t / 2)
    r_quarter = blocks.count_before(t / 2) - blocks.count_before(t / 4)
    p_glob = (observed + 1.0) / (e_now + 1e-9)
    p_loc = (r_half + 1.0) / (max(e_now - e_half, 0.0) + 1.0 / p_glob)
    branching = p_loc * mean_weight
    obs1 = observed + 1.0
    x = np.array(
        [
            1.0,
            math.log1p(p_loc * future / obs1),
            math.log1p(p_glob * future / obs1),
            min(branching, 1.5),
            math.log(t / 3600.0),
            math.log(obs1),
            math.log(p_loc / p_glob),
        ]
    )
    rate_recent = r_half / (t / 2)
    rate_before = r_quarter / (t / 4)
    info = {
        "growth_rate": rate_recent * 3600.0,
        "branching": branching,
        "peak_passed": float(rate_recent < rate_before),
    }
    return x, info


# --- input -------------------------------------------------------------------------------------


def _check_number(value: float, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return v


def _root_weight(followers: float | None) -> float:
    if followers is None:
        return DEFAULT_ROOT_FOLLOWERS / N_BAR
    f = _check_number(followers, "followers")
    if f < 0:
        raise ValueError(f"followers must be >= 0, got {followers!r}")
    return max(f, 1.0) / N_BAR


def _pairs(data: Sequence[Sequence[float]], what: str) -> np.ndarray:
    if isinstance(data, str | bytes) or not isinstance(data, Sequence | np.ndarray):
        raise ValueError(f"{what} must be a list of (seconds, value) pairs")
    rows: list[tuple[float, float]] = []
    for i, item in enumerate(data):
        try:
            t, v = item
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] must be a (seconds, value) pair, got {item!r}") from None
        rows.append((_check_number(t, f"{what}[{i}] seconds"), _check_number(v, f"{what}[{i}] value")))
    arr = np.array(rows, dtype=float).reshape(-1, 2)
    if arr.size and np.any(arr[:, 0] < 0):
        raise ValueError(f"{what}: seconds since the post must be >= 0")
    if arr.size and np.any(np.diff(arr[:, 0]) < 0):
        raise ValueError(f"{what}: times must be sorted (non-decreasing seconds since the post)")
    if arr.size and np.any(arr[:, 1] < 0):
        raise ValueError(f"{what}: counts/followers must be >= 0")
    return arr


def _now(now: float | None, last: float) -> float:
    if now is None:
        return last
    n = _check_number(now, "now")
    if n < last:
        raise ValueError(f"now ({n}) is before the last observation ({last})")
    return n


# --- the forecast ------------------------------------------------------------------------------


def _predict(
    mode: Literal["events", "counts"], x: np.ndarray, observed: int, now: float, info: dict[str, float]
) -> Forecast:
    coef = COEFFICIENTS[mode]
    q = [float(np.dot(coef[level], x)) for level in QUANTILES]
    mid = max(q[1], 0.0)
    lo = max(min(q[0], mid), 0.0)
    hi = max(q[2], mid)
    base = observed + 1.0
    return Forecast(
        final=base * math.exp(mid) - 1.0,
        low=base * math.exp(lo) - 1.0,
        high=base * math.exp(hi) - 1.0,
        model=f"{MODEL_NAME} ({mode})",
        mode=mode,
        at=now,
        observed=observed,
        growth_rate=info["growth_rate"],
        branching=info["branching"],
        peak_passed=bool(info["peak_passed"]),
    )


def _event_blocks(arr: np.ndarray, followers: float | None) -> _Blocks:
    t = np.concatenate(([0.0], arr[:, 0]))
    w = np.concatenate(([_root_weight(followers)], np.maximum(arr[:, 1], 1.0) / N_BAR))
    k = np.concatenate(([0.0], np.ones(arr.shape[0])))
    return _Blocks(t, t, k, w)


def _mean_weight(weights: np.ndarray) -> float:
    """Followers of a future resharer, in N_BAR units: the observed mean (capped per resharer so one
    celebrity does not dominate), shrunk towards the prior with 5 pseudo-resharers."""
    return float((np.sum(np.minimum(weights, 50.0)) + 5.0) / (weights.size + 5.0))


def forecast_events(
    events: Sequence[Sequence[float]], followers: float | None = None, now: float | None = None
) -> Forecast:
    """Forecast from per-reshare data: `events` is a list of (seconds since the post, followers of the
    resharer), sorted by time, the original post excluded; `followers` is the author's follower count;
    `now` (seconds since the post, default the last reshare) is when the forecast is made -- pass it,
    since a quiet spell since the last reshare is information too."""
    arr = _pairs(events, "events")
    if arr.shape[0] == 0 and now is None:
        raise ValueError("events is empty: pass `now` to forecast a post with no reshares yet")
    t_now = _now(now, float(arr[-1, 0]) if arr.shape[0] else 0.0)
    blocks = _event_blocks(arr, followers)
    observed = int(arr.shape[0])
    x, info = _features(blocks, observed, t_now, _mean_weight(blocks.w[1:]))
    return _predict("events", x, observed, t_now, info)


def _count_blocks(arr: np.ndarray, followers: float | None) -> tuple[_Blocks, int]:
    times = arr[:, 0]
    counts = np.maximum.accumulate(arr[:, 1])  # un-reshares can make a count dip: keep the maximum
    starts = np.concatenate(([0.0], times[:-1]))
    prev = np.concatenate(([0.0], counts[:-1]))
    k = counts - prev
    a = np.concatenate(([0.0], starts))
    b = np.concatenate(([0.0], times))
    kk = np.concatenate(([0.0], k))
    w = np.concatenate(([_root_weight(followers)], np.ones(k.size)))
    return _Blocks(a, b, kk, w), int(round(counts[-1]))


def forecast(
    snapshots: Sequence[Sequence[float]],
    followers: float | None = None,
    now: float | None = None,
    *,
    events: bool = False,
) -> Forecast:
    """Forecast the final reshares of a post.

    `snapshots`: (seconds since the post, cumulative reshares) pairs, sorted by time -- as few as one.
    With `events=True` they are per-reshare (seconds since the post, followers of the resharer)
    instead: see `forecast_events`. `followers`: the author's follower count, if known. `now`:
    seconds since the post at which the forecast is made (default: the last snapshot).
    Raises ValueError for empty, unsorted, negative or non-numeric input."""
    if events:
        return forecast_events(snapshots, followers, now)
    arr = _pairs(snapshots, "snapshots")
    if arr.shape[0] == 0:
        raise ValueError("snapshots is empty: give at least one (seconds since the post, count) pair")
    if np.any(arr[:, 1] != np.round(arr[:, 1])):
        raise ValueError("snapshots: cumulative counts must be whole numbers")
    t_now = _now(now, float(arr[-1, 0]))
    blocks, observed = _count_blocks(arr, followers)
    x, info = _features(blocks, observed, t_now, 1.0)
    return _predict("counts", x, observed, t_now, info)


# --- fitting the correction on synthetic cascades ------------------------------------------------

# Snapshot times (seconds) a counts-only source is polled at; training draws random subsets.
SNAPSHOT_GRID = (60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def training_rows(
    cascades: Sequence[object], seed: int = 0, per_cascade: int = 4
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Feature rows and targets log((final+1)/(observed+1)) from synthetic cascades, in both modes,
    at `per_cascade` observation times drawn log-uniformly between 5 minutes and 24 hours."""
    from cuida.listening.synthetic import Cascade

    rng = np.random.default_rng(seed)
    rows: dict[str, tuple[list[np.ndarray], list[float]]] = {"events": ([], []), "counts": ([], [])}
    for c in cascades:
        assert isinstance(c, Cascade)
        for _ in range(per_cascade):
            now = float(np.exp(rng.uniform(math.log(300), math.log(86400))))
            k = c.count_at(now)
            y = math.log((c.final + 1.0) / (k + 1.0))
            ev = np.column_stack((c.times[:k], c.followers[:k])) if k else np.empty((0, 2))
            blocks = _event_blocks(ev, c.params.root_followers)
            x, _ = _features(blocks, k, now, _mean_weight(blocks.w[1:]))
            rows["events"][0].append(x)
            rows["events"][1].append(y)
            grid = [g for g in SNAPSHOT_GRID if g < now]
            n_pick = int(rng.integers(0, min(len(grid), 6) + 1))
            picked = sorted(rng.choice(grid, size=n_pick, replace=False).tolist()) if n_pick else []
            snaps = np.array(c.snapshots([*picked, now]), dtype=float)
            cblocks, observed = _count_blocks(snaps, c.params.root_followers)
            x, _ = _features(cblocks, observed, now, 1.0)
            rows["counts"][0].append(x)
            rows["counts"][1].append(y)
    return {m: (np.array(xs), np.array(ys)) for m, (xs, ys) in rows.items()}


def fit_correction(n_cascades: int = 4000, seed: int = 7) -> Coefficients:
    """Refit the shipped coefficients on the project's own synthetic cascades (needs scikit-learn)."""
    from sklearn.linear_model import QuantileRegressor

    from cuida.listening.synthetic import population

    data = training_rows(population(n_cascades, seed=seed), seed=seed)
    out: Coefficients = {}
    for mode, (x, y) in data.items():
        out[mode] = {}
        for level in QUANTILES:
            reg = QuantileRegressor(quantile=level, alpha=0.0, fit_intercept=False, solver="highs").fit(x, y)
            out[mode][level] = tuple(round(float(v), 4) for v in reg.coef_)
    return out


if __name__ == "__main__":  # pragma: no cover - maintenance command
    import pprint

    pprint.pprint(fit_correction(), width=110)
