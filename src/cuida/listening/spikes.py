"""Spike detection on mention volume and negative share, against a seasonal rolling baseline.

Pure functions over time series; no database. Counts come in buckets of a fixed `interval` (an hour,
five minutes: anything that divides a day), each a timezone-aware datetime on the interval's grid.
A missing bucket means no mentions.

Volume baseline, for bucket t (the way listening vendors describe it: last hour against the previous
hours, the same hour yesterday and the same hour last week):

- `P_week`: the same time last week (mean of a small window around it), scaled by the ratio of the
  recent hours to the same hours last week (this carries trend and level changes);
- `P_day`: the same with yesterday;
- `P_recent`: the mean of the recent hours.

expected = max(P_primary, median(P_week, P_day, P_recent)), where P_primary is P_week once a week
of history exists (otherwise P_day). Last week's same hour carries both cycles, including peaks that
come every Monday morning; the median steps in when last week was abnormally low (an outage) and
both yesterday and the recent hours say so. The history the baseline reads is *cleaned*: every
bucket is stored clipped to expected +- `clean_z` standard deviations, so a spike does not inflate
tomorrow's or next week's baseline, while a lasting change of level is still learned, gradually.

Test: the upper tail probability of the observed count under a negative binomial with the expected
mean and a variance that adds the Poisson noise, the baseline's own sampling noise and an
overdispersion learned online from the residuals. A bucket is *anomalous* when that probability is
at most `threshold` and it is also large in absolute terms (`min_count`, `min_excess`, `min_ratio`:
3 mentions where 0.5 were expected is not a crisis). A spike is raised when anomalous buckets
persist (`persist` in a row) or a single one is extreme (`large`); consecutive anomalous buckets,
and those separated by fewer than `cooldown` normal buckets, are one spike.

Negative share: the pooled share of negative mentions over the last `share_window` (cleaned the same
way) against the bucket's, with a beta-binomial tail test and the same persistence rules.

`detect()` runs over a whole series; `SpikeDetector` is the same thing online (`observe()` one
bucket at a time, keeping only the last week and a few hours of buckets, constant work per bucket);
`SpikeRegistry` keeps one detector per brand term or topic.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from scipy import special, stats

Kind = Literal["volume", "negative_share"]

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLIP = 2.5  # squared z-scores are winsorized here when learning the dispersion
# E[min(Z^2, c^2)] for a standard normal Z
_CLIPPED_Z2 = float(
    (1 - 2 * stats.norm.sf(_CLIP)) - 2 * _CLIP * stats.norm.pdf(_CLIP) + 2 * _CLIP**2 * stats.norm.sf(_CLIP)
)


@dataclass(frozen=True)
class SpikeConfig:
    threshold: float = 1e-2  # a bucket is anomalous at this upper-tail probability or below
    large: float = 1e-4  # ... and a spike at once when a single bucket is this improbable
    persist: int = 2  # otherwise after this many anomalous buckets in a row
    cooldown: int = 2  # this many normal buckets close a spike
    min_count: int = 10  # fewer mentions in a bucket are never a spike
    min_excess: float = 5.0  # observed - expected must be at least this
    min_ratio: float = 1.5  # observed / expected must be at least this
    expected_floor: float = 0.5  # expected counts below this are taken as this
    recent: timedelta = timedelta(hours=6)  # the "previous hours"
    level: timedelta = DAY  # the level of the last day against the same hours then scales the seasonal refs
    smooth: timedelta = timedelta(hours=1)  # half-width of the window around yesterday / last week
    dispersion: float = 0.02  # prior overdispersion (variance = mu + d mu^2), then learned
    min_dispersion: float = 0.005
    max_dispersion: float = 1.0
    learn_dispersion: bool = True
    clean_z: float = 2.0  # history is stored clipped to expected +- clean_z sd
    warmup: timedelta = 2 * DAY  # no alerts (and no cleaning) before this much history
    # negative share
    share_window: timedelta = WEEK
    share_dispersion: float = 0.01  # beta-binomial intra-class correlation
    min_negative: int = 5  # fewer negative mentions in a bucket are never a spike
    min_share_increase: float = 0.10  # the share must rise by this much (absolute) ...
    min_share_ratio: float = 1.5  # ... and by this factor

    def __post_init__(self) -> None:
        if not 0 < self.large <= self.threshold < 1:
            raise ValueError("need 0 < large <= threshold < 1")
        if self.persist < 1 or self.cooldown < 1:
            raise ValueError("persist and cooldown must be at least 1")
        if self.min_count < 0 or self.min_excess < 0 or self.min_ratio < 1 or self.expected_floor <= 0:
            raise ValueError("min_count, min_excess >= 0, min_ratio >= 1, expected_floor > 0")
        if (
            self.recent <= timedelta(0)
            or self.level <= timedelta(0)
            or self.smooth < timedelta(0)
            or self.smooth >= DAY / 2
        ):
            raise ValueError("recent and level must be positive and smooth in [0, 12h)")
        if not 0 <= self.min_dispersion <= self.dispersion <= self.max_dispersion:
            raise ValueError("need 0 <= min_dispersion <= dispersion <= max_dispersion")
        if self.clean_z <= 0 or self.warmup < timedelta(0):
            raise ValueError("clean_z must be positive and warmup not negative")
        if self.share_window <= timedelta(0) or not 0 < self.share_dispersion < 1:
            raise ValueError("share_window must be positive and share_dispersion in (0, 1)")
        if self.min_negative < 0 or self.min_share_increase < 0 or self.min_share_ratio < 1:
            raise ValueError("min_negative, min_share_increase >= 0 and min_share_ratio >= 1")


@dataclass(frozen=True)
class Spike:
    kind: Kind
    start: datetime  # first bucket of the spike
    end: datetime  # last anomalous bucket so far
    peak_at: datetime  # the most improbable bucket
    observed: int  # at the peak: mentions (volume) or negative mentions (negative_share)
    expected: float  # at the peak, in the same unit
    score: float  # at the peak: -log10 of the upper-tail probability
    z: float  # at the peak: (observed - expected) / sd
    alerted_at: datetime  # the bucket whose arrival raised it
    reason: str
    key: str | None = None
    total: int = 0  # mentions in the peak bucket


@dataclass(frozen=True)
class _Verdict:
    at: datetime
    anomalous: bool
    probability: float
    observed: int
    expected: float
    z: float
    total: int
    reason: str

    @property
    def score(self) -> float:
        return -math.log10(max(self.probability, 1e-300))


@dataclass
class _Track:
    """Persistence and de-duplication for one kind of spike."""

    run: list[_Verdict] = field(default_factory=list)
    open: Spike | None = None
    quiet: int = 0


def _poisson_nb_sf(x: int, mean: float, var: float) -> float:
    """P(X >= x) for a negative binomial with this mean and variance (Poisson when var <= mean)."""
    if x <= 0:
        return 1.0
    if var <= mean * (1 + 1e-9):
        return float(special.gammainc(x, mean))
    k = mean * mean / (var - mean)
    return float(special.betainc(x, k, mean / (k + mean)))


def _describe(interval: timedelta) -> tuple[str, str]:
    minutes = int(interval / timedelta(minutes=1))
    if minutes == 60:
        return "the last hour", "same hour"
    if minutes % 60 == 0:
        return f"the last {minutes // 60} hours", "same hours"
    return f"the last {minutes} minutes", "same time"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


class SpikeDetector:
    """Online spike detection for one series. `observe()` each bucket as it closes; it returns a
    `Spike` when one is raised (once per spike) and None otherwise. Keeps the last week plus a few
    hours of buckets."""

    def __init__(
        self,
        *,
        interval: timedelta = timedelta(hours=1),
        config: SpikeConfig | None = None,
        key: str | None = None,
        keep: int | None = 256,
    ) -> None:
        if not isinstance(interval, timedelta) or interval <= timedelta(0) or DAY % interval:
            raise ValueError("interval must be a positive timedelta that divides a day")
        self.interval = interval
        self.config = config or SpikeConfig()
        self.key = key
        c = self.config
        self._day = DAY // interval
        self._week = WEEK // interval
        self._r = max(1, math.ceil(c.recent / interval))
        self._h = int(c.smooth // interval)
        self._level = max(1, math.ceil(c.level / interval))
        if self._h >= self._day:
            raise ValueError("smooth must be shorter than a day at this interval")
        self._share_n = max(1, math.ceil(c.share_window / interval))
        self._warmup = math.ceil(c.warmup / interval)
        self._cap = max(self._week + max(self._r, self._h, self._level) + 1, self._share_n + 1)
        self._label, self._same = _describe(interval)
        self._eta = 0.5 / self._day  # learning rate of the dispersion, per bucket
        self._closed: deque[Spike] = deque(maxlen=keep)
        self.reset()

    def reset(self) -> None:
        """Forget all history (as after a gap longer than the history kept)."""
        cap = self._cap
        self._raw = [0] * cap
        self._clean = [0.0] * cap
        self._neg_raw = [0] * cap
        self._neg_clean = [0] * cap
        self._n = 0  # buckets seen since the last reset
        self._last: datetime | None = None
        self._share_neg = 0  # running sums over the last share_n buckets
        self._share_tot = 0
        self._phi = self.config.dispersion
        self._tracks = {"volume": _Track(), "negative_share": _Track()}

    # -- public -------------------------------------------------------------------------------

    @property
    def dispersion(self) -> float:
        """The overdispersion in use: the configured prior, then learned from the residuals."""
        return self._phi

    @property
    def buckets_kept(self) -> int:
        return self._cap

    def spikes(self) -> list[Spike]:
        """Spikes raised so far (the last `keep` closed ones and any still open), oldest first."""
        found = list(self._closed)
        found += [t.open for t in self._tracks.values() if t.open is not None]
        return sorted(found, key=lambda s: (s.start, s.kind))

    def open_spikes(self) -> list[Spike]:
        return [t.open for t in self._tracks.values() if t.open is not None]

    def observe(self, at: datetime, count: int, negative: int | None = None) -> Spike | None:
        """Feed one closed bucket. Buckets must come in order; skipped buckets count as empty.
        Returns the spike this bucket raised, if any (the volume one when both kinds fire in the
        same bucket: `observe_all()` returns both)."""
        raised = self.observe_all(at, count, negative)
        return raised[0] if raised else None

    def observe_all(self, at: datetime, count: int, negative: int | None = None) -> list[Spike]:
        """As `observe()`, returning every spike the bucket raised."""
        _check_count(count, "count")
        if negative is not None:
            _check_count(negative, "negative")
            if negative > count:
                raise ValueError("negative cannot exceed count")
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError("bucket times must be timezone-aware datetimes")
        if (at - EPOCH) % self.interval:
            raise ValueError(f"{at.isoformat()} is not on the {self.interval} grid")
        if self._last is not None:
            if at <= self._last:
                raise ValueError(f"bucket {at.isoformat()} is not after {self._last.isoformat()}")
            gap = (at - self._last) // self.interval - 1
            if gap >= self._cap:
                self.reset()
            else:
                for _ in range(gap):
                    self._step(self._last + self.interval, 0, None)
        return self._step(at, count, negative)

    # -- internals ------------------------------------------------------------------------------

    def _window(self, values: Sequence[float], end: int, length: int) -> float:
        """Sum of values at absolute indices [end - length, end)."""
        cap = self._cap
        a, b = (end - length) % cap, end % cap
        if length <= 0:
            return 0.0
        if a < b:
            return float(sum(values[a:b]))
        return float(sum(values[a:]) + sum(values[:b]))

    def _step(self, at: datetime, count: int, negative: int | None) -> list[Spike]:
        c = self.config
        t = self._n
        cap = self._cap
        raised: list[Spike] = []
        can_alert = t >= self._warmup and t >= self._day

        # --- volume ---
        expected, var, reason = self._expect(t, count)
        sd = math.sqrt(var)
        if can_alert and count >= c.min_count and count - expected >= c.min_excess:
            prob = _poisson_nb_sf(count, expected, var) if count >= c.min_ratio * expected else 1.0
        else:
            prob = 1.0
        verdict = _Verdict(
            at=at,
            anomalous=prob <= c.threshold,
            probability=prob,
            observed=count,
            expected=expected,
            z=(count - expected) / sd,
            total=count,
            reason=reason,
        )
        spike = self._track("volume", verdict)
        if spike is not None:
            raised.append(spike)
        # what the baseline will remember of this bucket: clipped to +- clean_z sd, and to +1 sd
        # when anomalous (so a lasting change of level is learned, but slowly)
        upper = expected + (1.0 if verdict.anomalous else c.clean_z) * sd
        cleaned = min(max(float(count), expected - c.clean_z * sd), upper) if can_alert else float(count)
        track = self._tracks["volume"]
        if c.learn_dispersion and t >= self._day and not (verdict.anomalous or track.run or track.open):
            self._learn_dispersion(count, expected, var)

        # --- negative share ---
        neg_clean = 0
        if negative is not None:
            neg_clean = negative
            share_verdict = self._share(t, at, count, negative, can_alert)
            if share_verdict is not None:
                spike = self._track("negative_share", share_verdict)
                if spike is not None:
                    raised.append(spike)
                neg_clean = min(
                    negative,
                    math.ceil(
                        share_verdict.expected
                        + c.clean_z
                        * math.sqrt(max(share_verdict.expected, 1.0) * (1 + (count - 1) * c.share_dispersion))
                    ),
                )
        else:
            self._tracks["negative_share"].run.clear()

        # --- store ---
        i = t % cap
        if t >= self._share_n:  # the bucket leaving the share window
            j = (t - self._share_n) % cap
            self._share_neg -= self._neg_clean[j]
            self._share_tot -= self._raw[j] if self._neg_known(j) else 0
        self._raw[i] = count
        self._clean[i] = cleaned
        self._neg_raw[i] = -1 if negative is None else negative
        self._neg_clean[i] = neg_clean if negative is not None else 0
        if negative is not None:
            self._share_neg += neg_clean
            self._share_tot += count
        self._n = t + 1
        self._last = at
        return raised

    def _learn_dispersion(self, count: int, expected: float, var: float) -> None:
        """Robust stochastic approximation: move log(dispersion) so that the winsorized squared
        z-score averages what it would under a normal, weighted by how much of the variance the
        dispersion term explains (quiet hours, where Poisson noise dominates, say little)."""
        c = self.config
        phi = self.dispersion
        z2 = min((count - expected) ** 2 / var, _CLIP * _CLIP)
        weight = phi * expected * expected / var
        phi *= math.exp(self._eta * weight * (z2 - _CLIPPED_Z2))
        self._phi = min(c.max_dispersion, max(c.min_dispersion, phi))

    def _neg_known(self, j: int) -> bool:
        return self._neg_raw[j] >= 0

    def _expect(self, t: int, count: int) -> tuple[float, float, str]:
        """Expected count for bucket t, its variance, and the human reason."""
        c = self.config
        r, h = self._r, self._h
        phi = self.dispersion
        clean = self._clean
        available = min(t, r)
        rec = self._window(clean, t, available)
        candidates: list[tuple[float, float]] = []  # (prediction, relative variance of it)
        if available:
            candidates.append((rec / available, 1.0 / (rec + 1.0) + phi / available))
        parts: dict[str, float] = {}
        primary: tuple[float, float] | None = None
        for name, lag in (("yesterday", self._day), ("last week", self._week)):
            if t - lag < max(r, h + 1):
                continue
            span = min(self._level, t - lag)  # the level window: recent hours against the same hours then
            now = self._window(clean, t, span)
            then = self._window(clean, t - lag, span)
            ratio = min(5.0, max(0.2, (now + 2.0) / (then + 2.0)))
            seas = self._window(clean, t - lag + h + 1, 2 * h + 1)
            prediction = seas / (2 * h + 1) * ratio
            rel = (
                1.0 / (seas + 1.0)
                + phi / (2 * h + 1)
                + 1.0 / (now + 1.0)
                + 1.0 / (then + 1.0)
                + 2 * phi / span
            )
            candidates.append((prediction, rel))
            primary = (prediction, rel)
            parts[name] = float(self._raw[(t - lag) % self._cap])
        if not candidates:
            return c.expected_floor, c.expected_floor * (1 + c.dispersion * c.expected_floor), ""
        values = sorted(p for p, _ in candidates)
        median = (
            values[len(values) // 2]
            if len(values) % 2
            else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        )
        if primary is None:
            primary = candidates[0]
        expected = max(primary[0], median, c.expected_floor)
        var = expected + expected * expected * (primary[1] + self.dispersion)

        noun = "mention" if count == 1 else "mentions"
        context = [f"{self._same} {name} {_fmt(v)}" for name, v in parts.items()]
        if available:
            recent_raw = self._window(self._raw, t, available) / available
            context.append(f"previous hours {_fmt(recent_raw)}")
        reason = f"{count} {noun} in {self._label} vs {_fmt(expected)} expected"
        if context:
            reason += f" ({', '.join(context)})"
        return expected, var, reason

    def _share(self, t: int, at: datetime, count: int, negative: int, can_alert: bool) -> _Verdict | None:
        c = self.config
        if self._share_tot <= 0:
            return None
        p0 = (self._share_neg + 1.0) / (self._share_tot + 2.0)
        expected = count * p0
        rho = c.share_dispersion
        var = max(count * p0 * (1 - p0) * (1 + (count - 1) * rho), 1e-9)
        share = negative / count if count else 0.0
        prob = 1.0
        if (
            can_alert
            and count >= c.min_count
            and negative >= c.min_negative
            and share >= p0 + c.min_share_increase
            and share >= c.min_share_ratio * p0
        ):
            a = p0 * (1 - rho) / rho
            b = (1 - p0) * (1 - rho) / rho
            prob = float(stats.betabinom.sf(negative - 1, count, a, b))
        days = self._share_n * self.interval / DAY
        window = f"the last {days:g} days" if days != 1 else "the last day"
        reason = (
            f"{share:.0%} negative ({negative} of {count} mentions) in {self._label} "
            f"vs {p0:.0%} expected (pooled over {window})"
        )
        return _Verdict(
            at=at,
            anomalous=prob <= c.threshold,
            probability=prob,
            observed=negative,
            expected=expected,
            z=(negative - expected) / math.sqrt(var),
            total=count,
            reason=reason,
        )

    def _track(self, kind: Kind, verdict: _Verdict) -> Spike | None:
        c = self.config
        track = self._tracks[kind]
        if track.open is not None:
            if verdict.anomalous:
                track.quiet = 0
                spike = replace(track.open, end=verdict.at)
                if verdict.score > spike.score:
                    spike = _with_peak(spike, verdict)
                track.open = spike
            else:
                track.quiet += 1
                if track.quiet >= c.cooldown:
                    self._closed.append(track.open)
                    track.open = None
                    track.quiet = 0
            return None
        if not verdict.anomalous:
            track.run.clear()
            return None
        track.run.append(verdict)
        if len(track.run) >= c.persist or verdict.probability <= c.large:
            peak = max(track.run, key=lambda v: v.score)
            track.open = Spike(
                kind=kind,
                start=track.run[0].at,
                end=verdict.at,
                peak_at=peak.at,
                observed=peak.observed,
                expected=peak.expected,
                score=peak.score,
                z=peak.z,
                alerted_at=verdict.at,
                reason=peak.reason,
                key=self.key,
                total=peak.total,
            )
            track.run.clear()
            track.quiet = 0
            return track.open
        return None


def _with_peak(spike: Spike, verdict: _Verdict) -> Spike:
    return replace(
        spike,
        peak_at=verdict.at,
        observed=verdict.observed,
        expected=verdict.expected,
        score=verdict.score,
        z=verdict.z,
        reason=verdict.reason,
        total=verdict.total,
    )


def _check_count(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative")


def detect(
    series: Sequence[tuple[datetime, int]],
    *,
    negative: Sequence[int] | None = None,
    interval: timedelta = timedelta(hours=1),
    config: SpikeConfig | None = None,
    key: str | None = None,
) -> list[Spike]:
    """All spikes in a series of (bucket start, mention count), oldest first. `negative`, when
    given, holds the negative mentions of each bucket (same length). Buckets must be in increasing
    order on the interval's grid; missing buckets count as empty."""
    if negative is not None and len(negative) != len(series):
        raise ValueError(f"negative has {len(negative)} values for {len(series)} buckets")
    detector = SpikeDetector(interval=interval, config=config, key=key, keep=None)
    for i, item in enumerate(series):
        if not isinstance(item, tuple) or len(item) != 2:
            raise ValueError(f"bucket {i} is not a (datetime, count) pair")
        at, count = item
        detector.observe(at, count, None if negative is None else negative[i])
    return detector.spikes()


class SpikeRegistry:
    """One `SpikeDetector` per brand term or topic (any string key, e.g. "term:acme",
    "topic:billing"), created on first use with the registry's interval and config."""

    def __init__(
        self, *, interval: timedelta = timedelta(hours=1), config: SpikeConfig | None = None
    ) -> None:
        self.interval = interval
        self.config = config or SpikeConfig()
        self._detectors: dict[str, SpikeDetector] = {}
        SpikeDetector(interval=interval, config=self.config)  # validate now, not on first use

    def detector(self, key: str) -> SpikeDetector:
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty string")
        found = self._detectors.get(key)
        if found is None:
            found = self._detectors[key] = SpikeDetector(interval=self.interval, config=self.config, key=key)
        return found

    def observe(self, key: str, at: datetime, count: int, negative: int | None = None) -> Spike | None:
        return self.detector(key).observe(at, count, negative)

    def keys(self) -> list[str]:
        return sorted(self._detectors)

    def open_spikes(self) -> list[Spike]:
        return [s for d in self._detectors.values() for s in d.open_spikes()]
