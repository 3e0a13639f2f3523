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
  resharer, hence the branching ratio `m = p_loc * mean weight`;
* the shape of the curve so far: the author's share of the exposure, the recent rate against the
  mean rate, the second half of the elapsed time against the first, the quiet spell since the last
  reshare.

Those thirteen features (FEATURES) feed a learned correction: boosted quantile trees (10%, 50%, 90%)
of log((final + 1) / (observed + 1)). SEISMIC's closed form `n + p F / (1 - m)` explodes near
criticality and ignores fading infectiousness; a linear correction (v1) could not tell a post that
was fading from one whose first burst was its own audience coming online, and under-forecast the
posts that go on to spread. The trees were fitted ONLY on cascades the project generates
(`cuida.listening.synthetic`), never on research data, and ship as `reach_model.json`;
`python -m cuida.listening.reach` refits it (deterministic, about a minute). Quantile regression
gives the interval directly: on held-out synthetic cascades it covers about 80%.

Counts only (no per-reshare times): the reshares between two snapshots are spread uniformly over the
interval and every resharer is assumed to have the prior mean follower count, so the same features
are computed in closed form from the kernel's integral; that mode has its own trees, fitted on the
same cascades polled at random subsets of a snapshot grid.

A company with finished cascades of its own can fit a `LocalCorrection` on them (`fit_local`, or
`python -m cuida.listening.reach fit-local FOLDER OUT.json`): per input mode and observation time, an
L1-penalised median regression of log(1 + final) on the same features plus the shipped median, its
penalty and its cross-conformal interval taken from a cross-validation inside those cascades. Set
`cuida train-reach` writes it to CUIDA_DATA_DIR/models/reach-correction.json, which the forecaster
picks up by itself (re-read when the file changes); CUIDA_REACH_CORRECTION names another file and wins,
and `correction=` wins over both.

Counts are reshares (the original post excluded); `final` is the forecast total within 7 days.
A call costs about 0.2 ms from a handful of counts and about 0.35 ms from 1,000 reshares."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

THETA = 0.242  # power-law exponent of the memory kernel (SEISMIC)
S0 = 300.0  # seconds the kernel stays flat (SEISMIC: 5 minutes)
HORIZON = 7 * 86400.0  # the forecast is of reshares within 7 days of the post
N_BAR = 1000.0  # prior mean followers of a resharer; weights are in these units
DEFAULT_ROOT_FOLLOWERS = 1000.0  # used when the author's follower count is unknown
QUANTILES = (0.1, 0.5, 0.9)
MODEL_FILE = Path(__file__).with_name("reach_model.json")
FEATURES = (
    "log_hours",  # log of the elapsed time in hours
    "log_observed",  # log(1 + reshares so far)
    "log1p_local",  # log1p(p_loc * future exposure / (1 + observed))
    "log1p_global",  # log1p(p_glob * future exposure / (1 + observed))
    "branching_local",  # p_loc * mean resharer weight, capped at 3
    "branching_global",  # p_glob * mean resharer weight, capped at 3
    "log_decay",  # log(p_loc / p_glob): is infectiousness falling?
    "log_root",  # log of the author's followers, in N_BAR units
    "log_mean_weight",  # log of the resharers' mean followers, in N_BAR units
    "root_share",  # share of the exposure so far that is the author's own audience
    "recent_rate",  # log of the rate in the last eighth of the elapsed time vs the mean rate
    "half_ratio",  # log of the reshares in the second half vs the first half of the elapsed time
    "quiet",  # share of the elapsed time since the latest reshare
)


class _Trees:
    """One boosted quantile model: baseline plus a sum of small regression trees. Each tree is five
    parallel lists (feature, threshold, left, right, value); feature -1 marks a leaf; x <= threshold
    goes left (scikit-learn's HistGradientBoostingRegressor convention, which fitted them)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.base = float(doc["base"])
        self.trees = [
            (list(t["f"]), [float(v) for v in t["t"]], list(t["l"]), list(t["r"]), [float(v) for v in t["v"]])
            for t in doc["trees"]
        ]

    def __call__(self, x: Sequence[float]) -> float:
        total = self.base
        for feature, threshold, left, right, value in self.trees:
            i = 0
            while feature[i] >= 0:
                i = left[i] if x[feature[i]] <= threshold[i] else right[i]
            total += value[i]
        return total


@functools.cache
def _model() -> tuple[str, dict[str, dict[float, _Trees]]]:
    """The shipped correction (reach_model.json, written by `python -m cuida.listening.reach`)."""
    doc = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    if tuple(doc["features"]) != FEATURES:
        raise RuntimeError(f"{MODEL_FILE.name} was fitted on other features; refit it")
    models = {mode: {float(q): _Trees(m) for q, m in by_q.items()} for mode, by_q in doc["models"].items()}
    return str(doc["name"]), models


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
        # Plain-Python rows only for interval blocks (a handful); point blocks stay vectorised.
        self.rows = (
            []
            if self.all_points
            else list(zip(a.tolist(), b.tolist(), self.exposing.tolist(), w.tolist(), strict=True))
        )

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
    blocks: _Blocks, observed: float, now: float, mean_weight: float, last: float
) -> tuple[list[float], dict[str, float]]:
    """The model's inputs at time `now` (see FEATURES) and the descriptive figures of `Forecast`.
    `last`: time of the latest reshare seen (0 when none)."""
    t = max(now, 1.0)
    e_now = blocks.exposure(t)
    e_half = blocks.exposure(t / 2)
    e_h = blocks.exposure(HORIZON)
    future = max(e_h - e_now, 0.0)
    before_half = blocks.count_before(t / 2)
    r_half = observed - before_half
    r_quarter = before_half - blocks.count_before(t / 4)
    r_last = observed - blocks.count_before(t * 7 / 8)
    p_glob = (observed + 1.0) / (e_now + 1e-9)
    p_loc = (r_half + 1.0) / (max(e_now - e_half, 0.0) + 1.0 / p_glob)
    branching = p_loc * mean_weight
    obs1 = observed + 1.0
    root_share = blocks.w[0] * _cdf(t) / max(e_now, 1e-9)
    x = [
        math.log(t / 3600.0),
        math.log(obs1),
        math.log1p(p_loc * future / obs1),
        math.log1p(p_glob * future / obs1),
        min(branching, 3.0),
        min(p_glob * mean_weight, 3.0),
        math.log(p_loc / p_glob),
        math.log(float(blocks.w[0])),
        math.log(mean_weight),
        min(root_share, 1.0),
        math.log((r_last + 1.0) / (observed / 8.0 + 1.0)),
        math.log((r_half + 1.0) / (before_half + 1.0)),
        (t - last) / t,
    ]
    rate_recent = r_half / (t / 2)
    rate_before = r_quarter / (t / 4)
    info = {
        "growth_rate": rate_recent * 3600.0,
        "branching": branching,
        # Falling, or fallen silent after reshares earlier on.
        "peak_passed": float(rate_recent < rate_before or (r_half == 0 and observed > 0)),
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
    arr = _as_pairs(data)
    if arr is None:
        arr = _pairs_one_by_one(data, what)
    if arr.size and np.any(arr[:, 0] < 0):
        raise ValueError(f"{what}: seconds since the post must be >= 0")
    if arr.size and np.any(np.diff(arr[:, 0]) < 0):
        raise ValueError(f"{what}: times must be sorted (non-decreasing seconds since the post)")
    if arr.size and np.any(arr[:, 1] < 0):
        raise ValueError(f"{what}: counts/followers must be >= 0")
    return arr


def _as_pairs(data: Sequence[Sequence[float]]) -> np.ndarray | None:
    """Fast path for well-formed input (thousands of reshares): one numpy conversion; None when
    anything is off, so that `_pairs_one_by_one` can name the bad item."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "biuf":
        return None
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)):
        return None
    return arr


def _pairs_one_by_one(data: Sequence[Sequence[float]], what: str) -> np.ndarray:
    rows: list[tuple[float, float]] = []
    for i, item in enumerate(data):
        try:
            t, v = item
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] must be a (seconds, value) pair, got {item!r}") from None
        rows.append((_check_number(t, f"{what}[{i}] seconds"), _check_number(v, f"{what}[{i}] value")))
    return np.array(rows, dtype=float).reshape(-1, 2)


def _now(now: float | None, last: float) -> float:
    if now is None:
        return last
    n = _check_number(now, "now")
    if n < last:
        raise ValueError(f"now ({n}) is before the last observation ({last})")
    return n


# --- the forecast ------------------------------------------------------------------------------


def _predict(
    mode: Literal["events", "counts"],
    x: list[float],
    observed: int,
    now: float,
    info: dict[str, float],
    correction: LocalCorrection | None = None,
) -> Forecast:
    name, models = _model()
    q = [models[mode][level](x) for level in QUANTILES]
    mid = max(q[1], 0.0)
    lo = max(min(q[0], mid), 0.0)
    hi = max(q[2], mid)
    base = observed + 1.0
    if correction is not None and (corrected := correction.apply(mode, x, observed, now, mid)) is not None:
        mid, lo, hi = corrected
        name = f"{name} + {correction.name}"
    return Forecast(
        final=base * math.exp(mid) - 1.0,
        low=base * math.exp(lo) - 1.0,
        high=base * math.exp(hi) - 1.0,
        model=f"{name} ({mode})",
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
    events: Sequence[Sequence[float]],
    followers: float | None = None,
    now: float | None = None,
    *,
    correction: LocalCorrection | Literal[False] | None = None,
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
    last = float(arr[-1, 0]) if arr.shape[0] else 0.0
    x, info = _features(blocks, observed, t_now, _mean_weight(blocks.w[1:]), last)
    return _predict("events", x, observed, t_now, info, _correction(correction))


def _count_blocks(arr: np.ndarray, followers: float | None) -> tuple[_Blocks, int, float]:
    """Blocks from cumulative counts, the observed count, and the last snapshot time at which the
    count had grown (0 when it never did)."""
    times = arr[:, 0]
    counts = np.maximum.accumulate(arr[:, 1])  # un-reshares can make a count dip: keep the maximum
    starts = np.concatenate(([0.0], times[:-1]))
    prev = np.concatenate(([0.0], counts[:-1]))
    k = counts - prev
    grew = np.flatnonzero(k > 0)
    last = float(times[grew[-1]]) if grew.size else 0.0
    a = np.concatenate(([0.0], starts))
    b = np.concatenate(([0.0], times))
    kk = np.concatenate(([0.0], k))
    w = np.concatenate(([_root_weight(followers)], np.ones(k.size)))
    return _Blocks(a, b, kk, w), int(round(counts[-1])), last


def forecast(
    snapshots: Sequence[Sequence[float]],
    followers: float | None = None,
    now: float | None = None,
    *,
    events: bool = False,
    correction: LocalCorrection | Literal[False] | None = None,
) -> Forecast:
    """Forecast the final reshares of a post.

    `snapshots`: (seconds since the post, cumulative reshares) pairs, sorted by time -- as few as one.
    With `events=True` they are per-reshare (seconds since the post, followers of the resharer)
    instead: see `forecast_events`. `followers`: the author's follower count, if known. `now`:
    seconds since the post at which the forecast is made (default: the last snapshot).
    `correction`: a `LocalCorrection` fitted on the company's own cascades (`fit_local`); None uses
    the one named by CUIDA_REACH_CORRECTION if set; False forces the shipped model alone.
    Raises ValueError for empty, unsorted, negative or non-numeric input."""
    if events:
        return forecast_events(snapshots, followers, now, correction=correction)
    arr = _pairs(snapshots, "snapshots")
    if arr.shape[0] == 0:
        raise ValueError("snapshots is empty: give at least one (seconds since the post, count) pair")
    if np.any(arr[:, 1] != np.round(arr[:, 1])):
        raise ValueError("snapshots: cumulative counts must be whole numbers")
    t_now = _now(now, float(arr[-1, 0]))
    blocks, observed, last = _count_blocks(arr, followers)
    x, info = _features(blocks, observed, t_now, 1.0, last)
    return _predict("counts", x, observed, t_now, info, _correction(correction))


# --- a correction fitted on the company's own cascades ----------------------------------------------

CORRECTION_ENV = "CUIDA_REACH_CORRECTION"  # path of a LocalCorrection file the forecaster then applies
LOCAL_TIMES = (300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0)
LOCAL_ALPHAS = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)  # L1 penalties tried, strongest first
LOCAL_FOLDS = 5
LOCAL_MIN_CASCADES = 20
LOCAL_NAME = "local-median-regression/v1"
LOCAL_FEATURES = (*FEATURES, "log_shipped")  # log(1 + the shipped model's median)


class _LocalModel(BaseModel):
    """Median regression of log(1 + final) at one observation time, on standardised features, with
    the interval as offsets: out-of-fold residual quantiles (cross-conformal)."""

    model_config = ConfigDict(frozen=True)

    at: float  # observation time (seconds since the post) the model was fitted at
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    low: float  # 10% residual quantile, log scale
    high: float  # 90% residual quantile, log scale
    alpha: float  # L1 penalty chosen by cross-validation
    cascades: int


class LocalCorrection(BaseModel):
    """What `fit_local` learns from a company's own finished cascades: per input mode and observation
    time, a small median regression that re-reads the shipped model's forecast and features. It applies
    to forecasts made within a factor 2 of a fitted observation time; elsewhere the shipped model
    answers alone."""

    model_config = ConfigDict(frozen=True)

    name: str = LOCAL_NAME
    features: list[str] = list(LOCAL_FEATURES)
    models: dict[str, list[_LocalModel]]

    def apply(
        self, mode: str, x: list[float], observed: int, now: float, shipped_mid: float
    ) -> tuple[float, float, float] | None:
        """(median, low, high) as log((value + 1) / (observed + 1)), or None where it does not apply."""
        models = self.models.get(mode)
        if not models:
            return None
        t = max(now, 1.0)
        model = min(models, key=lambda m: abs(math.log(t / m.at)))
        if abs(math.log(t / model.at)) > math.log(2.0):
            return None
        base = math.log(observed + 1.0)
        z = [*x, base + shipped_mid]
        y = model.intercept + sum(
            (v - mu) / sd * c for v, mu, sd, c in zip(z, model.mean, model.scale, model.coef, strict=True)
        )
        mid = max(y - base, 0.0)
        return mid, max(min(y + model.low - base, mid), 0.0), max(y + model.high - base, mid)

    def save(self, path: Path) -> None:
        # Written aside and renamed into place: a forecaster reading the file meanwhile sees the old
        # correction or the new one, never half of one.
        path = Path(path)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(self.model_dump_json() + "\n", encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> LocalCorrection:
        doc = cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
        if tuple(doc.features) != LOCAL_FEATURES:
            raise ValueError(f"{path} was fitted on other features; refit it with fit_local")
        return doc


CORRECTION_FILE = Path("models") / "reach-correction.json"  # under CUIDA_DATA_DIR: `cuida train-reach`
# path -> (the file's identity when read, what it held); a new identity means the file changed
_loaded: dict[str, tuple[tuple[int, int, int], LocalCorrection]] = {}
_refused: dict[str, tuple[int, int, int]] = {}  # default files that could not be read, not retried until changed


def default_correction_path() -> Path:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings().data_dir / CORRECTION_FILE


def _correction_file(path: str, *, required: bool) -> LocalCorrection | None:
    """The correction in `path`, read once per version of the file (one stat per forecast). A
    required file (named by CUIDA_REACH_CORRECTION) must be readable; the default file is used when
    present and readable, and otherwise the shipped model answers alone."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if required:
            raise
        _loaded.pop(path, None)
        return None
    stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
    cached = _loaded.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if not required and _refused.get(path) == stamp:
        return None
    try:
        correction = LocalCorrection.load(Path(path))
    except (OSError, ValueError):
        if required:
            raise
        _refused[path] = stamp
        log.warning("the reach correction %s cannot be read; forecasting without it", path, exc_info=True)
        return None
    _refused.pop(path, None)
    _loaded[path] = (stamp, correction)
    return correction


def _correction(arg: LocalCorrection | Literal[False] | None) -> LocalCorrection | None:
    if arg is False:
        return None
    if arg is not None:
        return arg
    path = os.environ.get(CORRECTION_ENV)
    if path:
        return _correction_file(path, required=True)
    return _correction_file(str(default_correction_path()), required=False)


def read_cascade(path: Path) -> np.ndarray:
    """One finished cascade file: a header line (`<total> <start_day>`, not used), then one line per
    post `<seconds since the original post> <followers of the poster>`, the original post first.
    Returns the (seconds, followers) rows, original post included."""
    lines = [line.split() for line in Path(path).read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    try:
        arr = np.array([[float(a), float(b)] for a, b in lines], dtype=float).reshape(-1, 2)
    except ValueError:
        raise ValueError(f"{path}: each line after the header must be '<seconds> <followers>'") from None
    if arr.shape[0] == 0:
        raise ValueError(f"{path}: no posts after the header")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(np.diff(arr[:, 0]) < 0):
        raise ValueError(f"{path}: seconds and followers must be >= 0, seconds sorted")
    return arr


def _local_row(cascade: np.ndarray, at: float, mode: str) -> list[float]:
    """LOCAL_FEATURES of a cascade (rows as `read_cascade`) observed at `at`; counts-only rows see the
    counts at the SNAPSHOT_GRID times before `at`, the way a polled source would."""
    root, reshares = float(cascade[0, 1]), cascade[1:]
    if mode == "events":
        k = int(np.searchsorted(reshares[:, 0], at, side="right"))
        blocks = _event_blocks(reshares[:k], root)
        last = float(reshares[k - 1, 0]) if k else 0.0
        x, _ = _features(blocks, k, at, _mean_weight(blocks.w[1:]), last)
        observed = k
    else:
        polls = [g for g in SNAPSHOT_GRID if g < at] + [at]
        snaps = np.array([(t, np.searchsorted(reshares[:, 0], t, side="right")) for t in polls], dtype=float)
        blocks, observed, last = _count_blocks(snaps, root)
        x, _ = _features(blocks, observed, at, 1.0, last)
    _, models = _model()
    q = [models[mode][level](x) for level in QUANTILES]
    return [*x, math.log(observed + 1.0) + max(q[1], 0.0)]


def _fit_median(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import QuantileRegressor

    est = QuantileRegressor(quantile=0.5, alpha=alpha, solver="highs").fit(z, y)
    return np.asarray(est.coef_, dtype=float), float(est.intercept_)


def fit_local(
    cascades: Sequence[np.ndarray], times: Sequence[float] = LOCAL_TIMES, seed: int = 0
) -> LocalCorrection:
    """Fit a LocalCorrection on finished cascades (rows as `read_cascade`; final = reshares seen), for
    forecasts made at `times`. Per mode and time: median (L1-penalised quantile) regression of
    log(1 + final) on LOCAL_FEATURES; the penalty is chosen by a 5-fold cross-validation inside the
    cascades given, and the interval is the 10%/90% quantile of those out-of-fold residuals. Nothing
    outside `cascades` is looked at, so it can be refitted inside the folds of a benchmark. Needs
    scikit-learn."""
    n = len(cascades)
    if n < LOCAL_MIN_CASCADES:
        raise ValueError(f"fit_local needs at least {LOCAL_MIN_CASCADES} finished cascades, got {n}")
    folds = np.random.default_rng(seed).permutation(np.arange(n) % LOCAL_FOLDS)
    y = np.log(np.array([c.shape[0] for c in cascades], dtype=float))  # reshares + 1
    models: dict[str, list[_LocalModel]] = {}
    for mode in ("events", "counts"):
        models[mode] = []
        for at in times:
            x = np.array([_local_row(c, float(at), mode) for c in cascades])
            mean = x.mean(axis=0)
            scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
            z = (x - mean) / scale
            best: tuple[float, float, np.ndarray] | None = None
            for alpha in LOCAL_ALPHAS:
                out_of_fold = np.empty(n)
                for f in range(LOCAL_FOLDS):
                    coef, icpt = _fit_median(z[folds != f], y[folds != f], alpha)
                    out_of_fold[folds == f] = icpt + z[folds == f] @ coef
                loss = float(np.mean(np.abs(y - out_of_fold)))
                if best is None or loss < best[0]:  # ties keep the stronger penalty
                    best = (loss, alpha, y - out_of_fold)
            assert best is not None
            _, alpha, resid = best
            coef, icpt = _fit_median(z, y, alpha)
            # Finite-sample conformal levels: the (n+1)-th order statistic convention.
            lo_level = max(math.floor(0.1 * (n + 1)) / n, 0.0)
            hi_level = min(math.ceil(0.9 * (n + 1)) / n, 1.0)
            models[mode].append(
                _LocalModel(
                    at=float(at),
                    mean=[round(float(v), 9) for v in mean],
                    scale=[round(float(v), 9) for v in scale],
                    coef=[round(float(v), 9) for v in coef],
                    intercept=icpt,
                    low=float(np.quantile(resid, lo_level)),
                    high=float(np.quantile(resid, hi_level)),
                    alpha=alpha,
                    cascades=n,
                )
            )
    return LocalCorrection(models=models)


# --- fitting the correction on synthetic cascades ------------------------------------------------

# Snapshot times (seconds) a counts-only source is polled at; training draws random subsets.
SNAPSHOT_GRID = (60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def training_rows(
    cascades: Sequence[object], seed: int = 0, per_cascade: int = 5
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Feature rows and targets log((final+1)/(observed+1)) from synthetic cascades, in both modes,
    at `per_cascade` observation times drawn log-uniformly between 2 minutes and 2 days; counts-only
    rows see a random subset of SNAPSHOT_GRID before the observation time."""
    from cuida.listening.synthetic import Cascade

    rng = np.random.default_rng(seed)
    rows: dict[str, tuple[list[list[float]], list[float]]] = {"events": ([], []), "counts": ([], [])}
    for c in cascades:
        assert isinstance(c, Cascade)
        for _ in range(per_cascade):
            now = float(np.exp(rng.uniform(math.log(120), math.log(2 * 86400))))
            k = c.count_at(now)
            y = math.log((c.final + 1.0) / (k + 1.0))
            ev = np.column_stack((c.times[:k], c.followers[:k])) if k else np.empty((0, 2))
            blocks = _event_blocks(ev, c.params.root_followers)
            last = float(c.times[k - 1]) if k else 0.0
            x, _ = _features(blocks, k, now, _mean_weight(blocks.w[1:]), last)
            rows["events"][0].append(x)
            rows["events"][1].append(y)
            grid = [g for g in SNAPSHOT_GRID if g < now]
            n_pick = int(rng.integers(0, min(len(grid), 8) + 1))
            picked = sorted(rng.choice(grid, size=n_pick, replace=False).tolist()) if n_pick else []
            snaps = np.array(c.snapshots([*picked, now]), dtype=float)
            cblocks, observed, clast = _count_blocks(snaps, c.params.root_followers)
            x, _ = _features(cblocks, observed, now, 1.0, clast)
            rows["counts"][0].append(x)
            rows["counts"][1].append(y)
    return {m: (np.array(xs), np.array(ys)) for m, (xs, ys) in rows.items()}


MODEL_NAME = "seismic-powerlaw+synthetic-boosted-quantiles/v2"
FIT_CASCADES = 10_000
FIT_SEED = 7


def _export(est: Any) -> dict[str, Any]:
    trees = []
    for (predictor,) in est._predictors:
        nodes = predictor.nodes
        trees.append(
            {
                "f": [
                    int(f) if not leaf else -1
                    for f, leaf in zip(nodes["feature_idx"], nodes["is_leaf"], strict=True)
                ],
                "t": [float(v) for v in nodes["num_threshold"]],
                "l": [int(v) for v in nodes["left"]],
                "r": [int(v) for v in nodes["right"]],
                "v": [round(float(v), 6) for v in nodes["value"]],
            }
        )
    return {"base": float(np.ravel(est._baseline_prediction)[0]), "trees": trees}


def fit_correction(n_cascades: int = FIT_CASCADES, seed: int = FIT_SEED) -> dict[str, Any]:
    """Refit the shipped correction on the project's own synthetic cascades (needs scikit-learn):
    boosted quantile trees (10/50/90%) of log((final+1)/(observed+1)) per input mode."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from cuida.listening.synthetic import population

    data = training_rows(population(n_cascades, seed=seed), seed=seed)
    models: dict[str, dict[str, Any]] = {}
    for mode, (x, y) in data.items():
        models[mode] = {}
        for level in QUANTILES:
            est = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=level,
                max_iter=150,
                max_leaf_nodes=15,
                learning_rate=0.1,
                min_samples_leaf=40,
                early_stopping=False,
                random_state=0,
            ).fit(x, y)
            models[mode][str(level)] = _export(est)
    return {
        "name": MODEL_NAME,
        "features": list(FEATURES),
        "fitted_on": f"cuida.listening.synthetic.population({n_cascades}, seed={seed}), training_rows(seed={seed})",
        "models": models,
    }


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - maintenance command
    """`python -m cuida.listening.reach` refits the shipped model on synthetic cascades;
    `python -m cuida.listening.reach fit-local FOLDER OUT.json` fits a LocalCorrection on the
    company's own finished cascades (one file per post, `read_cascade` format); point
    CUIDA_REACH_CORRECTION at OUT.json to apply it."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m cuida.listening.reach", description=main.__doc__)
    sub = ap.add_subparsers(dest="command")
    local = sub.add_parser("fit-local", help="fit a correction on your own finished cascades")
    local.add_argument("folder", type=Path)
    local.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    if args.command == "fit-local":
        files = sorted(p for p in args.folder.iterdir() if p.is_file())
        correction = fit_local([read_cascade(p) for p in files])
        correction.save(args.out)
        print(f"wrote {args.out} from {len(files)} cascades; set {CORRECTION_ENV}={args.out}")
        return
    MODEL_FILE.write_text(json.dumps(fit_correction(), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":  # pragma: no cover - maintenance command
    main()
