"""Synthetic mention volumes with known spikes, for testing and benchmarking spike detection.

`generate()` draws an hourly (or 5-minute, or any interval that divides a day) series of mention
counts whose rate has a daily cycle, a weekly cycle (quieter weekends, optionally a regular
Monday-morning peak), a trend, and Poisson or negative-binomial noise; spikes of known start, length
and size are injected on top, as are negative-share spikes (the share of negative mentions rises
while the volume stays flat). `evaluate()` matches a detector's alerts against the injected spikes:
hits, detection delays and false alarms.

Everything is seeded: the same arguments give the same series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, midnight UTC

KINDS = ("volume", "negative_share")


@dataclass(frozen=True)
class SpikeSpec:
    """A spike to inject. `start` and `length` are in buckets. For a volume spike `size` multiplies the
    expected rate (2.0 = twice the usual volume) and `share`, when given, is the negative share of all
    mentions during it. For a negative-share spike the volume is left as it is and `share` is the
    negative share during it (required)."""

    start: int
    length: int
    size: float = 1.0
    kind: str = "volume"
    share: float | None = None


@dataclass(frozen=True)
class InjectedSpike:
    kind: str
    start: datetime
    end: datetime  # the last bucket of the spike (inclusive)
    start_index: int
    length: int
    size: float
    share: float | None


@dataclass(frozen=True)
class Volumes:
    interval: timedelta
    times: list[datetime]
    counts: list[int]
    negative: list[int]
    rate: list[float]  # expected mentions per bucket, without spikes
    share: list[float]  # expected negative share per bucket, without spikes
    spikes: list[InjectedSpike]

    def series(self) -> list[tuple[datetime, int]]:
        return list(zip(self.times, self.counts, strict=True))

    @property
    def weeks(self) -> float:
        return len(self.times) * self.interval / WEEK


def daily_profile(hour: float, *, amplitude: float, peak_hour: float = 14.0) -> float:
    """Relative rate at `hour` of the day: a log-cosine with its top at `peak_hour`, mean about 1."""
    if amplitude == 0:
        return 1.0
    return math.exp(amplitude * math.cos(2 * math.pi * (hour - peak_hour) / 24)) / _i0(amplitude)


def _i0(x: float) -> float:
    # mean of exp(x cos θ) over a period: the modified Bessel function I0(x)
    return float(np.i0(x))


def generate(
    *,
    days: float = 28,
    interval: timedelta = timedelta(hours=1),
    start: datetime = MONDAY,
    base: float = 50.0,
    daily_amplitude: float = 1.0,
    peak_hour: float = 14.0,
    weekend_drop: float = 0.4,
    monday_peak: float = 0.0,
    trend: float = 0.0,
    dispersion: float = 0.0,
    negative_share: float = 0.15,
    share_dispersion: float = 0.0,
    spikes: Sequence[SpikeSpec] = (),
    seed: int = 0,
) -> Volumes:
    """A mention series of `days` days.

    base: mean mentions per hour (before the daily and weekly cycles). daily_amplitude: strength of
    the daily cycle (1.0: the busiest hour has about 7x the quietest). weekend_drop: Saturday and
    Sunday volume is (1 - weekend_drop) of a weekday's. monday_peak: Monday 08:00-11:00 (UTC) gets up
    to (1 + monday_peak) times the usual rate, every week: a regular peak, not a spike. trend:
    relative growth per week. dispersion: negative-binomial overdispersion (variance = mu + d*mu^2;
    0 = Poisson). share_dispersion: the negative share of each bucket is drawn from a beta with this
    intra-class correlation (0 = binomial)."""
    if interval <= timedelta(0) or DAY % interval != timedelta(0):
        raise ValueError("interval must be positive and divide a day")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if base < 0 or dispersion < 0 or not 0 <= negative_share <= 1 or not 0 <= share_dispersion < 1:
        raise ValueError("bad generator parameters")
    rng = np.random.default_rng(seed)
    n = int(round(days * (DAY / interval)))
    hours_per_bucket = interval / timedelta(hours=1)
    times = [start + i * interval for i in range(n)]
    rate = np.empty(n)
    for i, at in enumerate(times):
        hour = at.hour + at.minute / 60 + hours_per_bucket / 2
        value = base * hours_per_bucket * daily_profile(hour, amplitude=daily_amplitude, peak_hour=peak_hour)
        if at.weekday() >= 5:
            value *= 1 - weekend_drop
        if monday_peak and at.weekday() == 0:
            value *= 1 + monday_peak * math.exp(-0.5 * ((hour - 9.5) / 1.0) ** 2)
        value *= (1 + trend) ** ((at - start) / WEEK)
        rate[i] = value
    share = np.full(n, negative_share)

    actual_rate = rate.copy()
    actual_share = share.copy()
    injected: list[InjectedSpike] = []
    for spec in spikes:
        if spec.kind not in KINDS:
            raise ValueError(f"unknown spike kind {spec.kind!r}")
        if spec.length < 1 or not 0 <= spec.start < n or spec.start + spec.length > n:
            raise ValueError(f"spike {spec} does not fit in the series")
        window = slice(spec.start, spec.start + spec.length)
        if spec.kind == "volume":
            if spec.size <= 0:
                raise ValueError("spike size must be positive")
            actual_rate[window] *= spec.size
            if spec.share is not None:
                actual_share[window] = spec.share
        else:
            if spec.share is None or not 0 <= spec.share <= 1:
                raise ValueError("a negative-share spike needs a share in [0, 1]")
            actual_share[window] = spec.share
        injected.append(
            InjectedSpike(
                kind=spec.kind,
                start=times[spec.start],
                end=times[spec.start + spec.length - 1],
                start_index=spec.start,
                length=spec.length,
                size=spec.size,
                share=spec.share,
            )
        )

    mu = actual_rate
    if dispersion > 0:  # gamma-Poisson mixture: negative binomial counts
        mu = mu * rng.gamma(shape=1 / dispersion, scale=dispersion, size=n)
    counts = rng.poisson(mu)
    if share_dispersion > 0:
        a = actual_share * (1 - share_dispersion) / share_dispersion
        b = (1 - actual_share) * (1 - share_dispersion) / share_dispersion
        p = rng.beta(np.maximum(a, 1e-9), np.maximum(b, 1e-9))
    else:
        p = actual_share
    negative = rng.binomial(counts, p)
    return Volumes(
        interval=interval,
        times=times,
        counts=[int(c) for c in counts],
        negative=[int(c) for c in negative],
        rate=[float(r) for r in rate],
        share=[float(s) for s in share],
        spikes=sorted(injected, key=lambda s: s.start_index),
    )


def place_spikes(
    rng: np.random.Generator,
    n_buckets: int,
    *,
    sizes: Sequence[float],
    lengths: Sequence[int],
    earliest: int,
    gap: int,
    kind: str = "volume",
    share: float | None = None,
) -> list[SpikeSpec]:
    """One spike per entry of `sizes`, in random order, in equal slots between `earliest` and the
    end of the series, each at a random place in its slot with at least `gap` buckets before the
    next one. Lengths are drawn from `lengths`."""
    order = list(sizes)
    rng.shuffle(order)
    slot = (n_buckets - earliest) // max(1, len(order))
    specs: list[SpikeSpec] = []
    for k, size in enumerate(order):
        length = int(rng.choice(list(lengths)))
        room = slot - length - gap
        if room < 0:
            raise ValueError("not enough room for the spikes")
        begin = earliest + k * slot + int(rng.integers(0, room + 1))
        specs.append(SpikeSpec(start=begin, length=length, size=float(size), kind=kind, share=share))
    return specs


@dataclass(frozen=True)
class Evaluation:
    hits: list[tuple[InjectedSpike, int]]  # (spike, delay in buckets from its start to the alert)
    misses: list[InjectedSpike]
    false_alarms: list[datetime]  # alert times matching no injected spike

    @property
    def recall(self) -> float:
        total = len(self.hits) + len(self.misses)
        return len(self.hits) / total if total else 1.0


def evaluate(
    injected: Sequence[InjectedSpike],
    alerts: Sequence[datetime],
    *,
    interval: timedelta,
    grace: int = 2,
    since: datetime | None = None,
) -> Evaluation:
    """Match alert times to injected spikes. An alert hits a spike when it is raised between the
    spike's first bucket and `grace` buckets after its last; the first such alert gives the delay.
    Every other alert (after `since`, if given) is a false alarm."""
    hits: list[tuple[InjectedSpike, int]] = []
    misses: list[InjectedSpike] = []
    used: set[int] = set()
    for spike in injected:
        last = spike.end + grace * interval
        found = [i for i, at in enumerate(alerts) if spike.start <= at <= last]
        if found:
            used.update(found)
            hits.append((spike, int((alerts[found[0]] - spike.start) / interval)))
        else:
            misses.append(spike)
    false_alarms = [at for i, at in enumerate(alerts) if i not in used and (since is None or at >= since)]
    return Evaluation(hits=hits, misses=misses, false_alarms=false_alarms)
