"""Spike detection on generated volumes with known spikes (cuida.listening.spikes / volumes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cuida.listening.spikes import SpikeConfig, SpikeDetector, SpikeRegistry, detect
from cuida.listening.volumes import MONDAY, SpikeSpec, Volumes, evaluate, generate, place_spikes

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
WARMUP = 8 * 24  # buckets kept free of spikes


def seasonal(seed: int, spikes: Sequence[SpikeSpec] = (), days: int = 35, **params: float) -> Volumes:
    """Strong daily cycle (busiest hour ~7x the quietest), weekends at 60% of weekdays."""
    defaults: dict[str, float] = {"base": 60, "daily_amplitude": 1.0, "weekend_drop": 0.4}
    defaults.update(params)
    return generate(days=days, spikes=spikes, seed=seed, **defaults)


def test_recall_and_false_alarms_on_seasonal_series() -> None:
    hits = total = false_alarms = 0
    weeks = 0.0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        specs = place_spikes(
            rng, 35 * 24, sizes=[3, 5, 3, 5, 3, 5], lengths=[3, 4, 6], earliest=WARMUP, gap=12
        )
        volumes = seasonal(seed, specs, monday_peak=1.0, dispersion=0.02)
        found = detect(volumes.series(), negative=volumes.negative)
        alerts = [s.alerted_at for s in found if s.kind == "volume"]
        result = evaluate(volumes.spikes, alerts, interval=HOUR, since=volumes.times[WARMUP])
        hits += len(result.hits)
        total += len(volumes.spikes)
        false_alarms += len(result.false_alarms)
        false_alarms += sum(1 for s in found if s.kind == "negative_share")  # no share spikes injected
        weeks += (35 * 24 - WARMUP) / (7 * 24)
        for _, delay in result.hits:
            assert delay <= 2
    assert hits / total >= 0.9, (hits, total)
    assert false_alarms / weeks <= 1.0, (false_alarms, weeks)


def test_no_alerts_on_a_series_without_spikes() -> None:
    for seed in range(3):
        volumes = seasonal(100 + seed, monday_peak=1.5, dispersion=0.03, trend=0.1)
        found = detect(volumes.series(), negative=volumes.negative)
        # once a week of history gives the weekly cycle: at most one alert in four weeks
        settled = [s for s in found if s.start >= volumes.times[WARMUP]]
        assert len(settled) <= 1, [s.reason for s in settled]


def test_monday_morning_regular_peak_is_not_a_spike() -> None:
    # every Monday 08-11 volume rises to 3x: a regular peak, seen last week, not a spike
    volumes = seasonal(5, monday_peak=2.0, weekend_drop=0.6)
    found = detect(volumes.series())
    mondays = [s for s in found if s.start.weekday() == 0 and 6 <= s.start.hour <= 12]
    after_first_week = [s for s in mondays if s.start >= volumes.times[0] + WEEK + timedelta(days=1)]
    assert after_first_week == [], [s.reason for s in after_first_week]
    # whereas a Monday peak twice as big as usual is
    spike = SpikeSpec(start=3 * 7 * 24 + 9, length=3, size=3.0)
    found = detect(seasonal(5, [spike], monday_peak=2.0, weekend_drop=0.6).series())
    assert any(s.start.weekday() == 0 and 9 <= s.start.hour <= 11 for s in found)


def test_quiet_brand_blip_is_not_a_spike() -> None:
    start = MONDAY
    series = [(start + i * HOUR, 0) for i in range(10 * 24)]
    blip_at = 9 * 24 + 14
    series[blip_at] = (series[blip_at][0], 4)
    series[blip_at + 1] = (series[blip_at + 1][0], 4)
    assert detect(series) == []
    # but a burst that is large in absolute terms is, even on a quiet brand
    series[blip_at] = (series[blip_at][0], 40)
    found = detect(series)
    assert len(found) == 1 and found[0].start == series[blip_at][0]
    assert found[0].kind == "volume" and found[0].observed == 40


def test_negative_share_spike_with_flat_volume() -> None:
    spike = SpikeSpec(start=20 * 24 + 10, length=4, kind="negative_share", share=0.45)
    volumes = seasonal(11, [spike], base=80, negative_share=0.15)
    found = detect(volumes.series(), negative=volumes.negative)
    shares = [s for s in found if s.kind == "negative_share"]
    assert [s.kind for s in found] == ["negative_share"], [s.reason for s in found]
    assert volumes.spikes[0].start <= shares[0].alerted_at <= volumes.spikes[0].end
    assert "negative" in shares[0].reason and shares[0].observed > shares[0].expected
    # without the negative counts there is nothing to see
    assert detect(volumes.series()) == []


def test_spike_fields_and_reason() -> None:
    spike = SpikeSpec(start=15 * 24 + 13, length=3, size=5.0)
    volumes = seasonal(3, [spike])
    [found] = [s for s in detect(volumes.series(), key="term:acme") if s.start >= volumes.times[WARMUP]]
    assert found.kind == "volume" and found.key == "term:acme"
    assert found.start == volumes.times[spike.start]
    assert found.start <= found.peak_at <= found.end <= volumes.times[spike.start + spike.length + 1]
    assert found.alerted_at <= volumes.times[spike.start + 1]
    assert found.observed > 3 * found.expected and found.score > 4 and found.z > 5
    assert found.reason.startswith(f"{found.observed} mentions in the last hour vs ")
    assert "same hour yesterday" in found.reason and "last week" in found.reason
    assert "previous hours" in found.reason


def test_long_spike_is_one_alert() -> None:
    spike = SpikeSpec(start=12 * 24 + 8, length=10, size=4.0)
    volumes = seasonal(4, [spike])
    detector = SpikeDetector()
    raised = [s for at, c in volumes.series() if (s := detector.observe(at, c)) is not None]
    assert len(raised) == 1
    [final] = detector.spikes()
    assert final.start == raised[0].start and final.end > raised[0].end


def test_online_equals_batch_and_memory_is_bounded() -> None:
    rng = np.random.default_rng(21)
    specs = place_spikes(rng, 28 * 24, sizes=[2, 3, 5, 5], lengths=[2, 4], earliest=WARMUP, gap=12)
    specs.append(SpikeSpec(start=WARMUP + 3, length=3, kind="negative_share", share=0.5))
    volumes = seasonal(21, specs, days=28, dispersion=0.03)
    batch = detect(volumes.series(), negative=volumes.negative, key="topic:billing")
    assert len(batch) >= 4

    registry = SpikeRegistry()
    raised = []
    for at, count, negative in zip(volumes.times, volumes.counts, volumes.negative, strict=True):
        raised += registry.detector("topic:billing").observe_all(at, count, negative)
        registry.observe("term:other", at, 5)
    assert [(s.kind, s.start, s.alerted_at) for s in raised] == [
        (s.kind, s.start, s.alerted_at) for s in batch
    ]
    detector = registry.detector("topic:billing")
    assert detector.spikes() == batch
    assert registry.keys() == ["term:other", "topic:billing"]
    assert registry.detector("term:other").spikes() == []
    # what it keeps does not grow with the history: about a week and a day of buckets
    assert detector.buckets_kept <= 8 * 24 + 1
    assert all(len(buffer) == detector.buckets_kept for buffer in (detector._raw, detector._clean))


def test_gaps_count_as_empty_buckets() -> None:
    volumes = seasonal(8, days=14)
    series = volumes.series()
    dense = detect(series)
    # drop the empty buckets: the same result
    sparse = [(at, c) for at, c in series if c]
    quiet = [(at, 0) for at, _ in series]
    assert detect(sparse) == dense
    assert detect([p for p in quiet if p[0].hour == 3]) == []


def test_five_minute_buckets() -> None:
    interval = timedelta(minutes=5)
    spike = SpikeSpec(start=10 * 288 + 150, length=12, size=4.0)
    volumes = generate(days=14, interval=interval, base=120, spikes=[spike], seed=2)
    found = detect(volumes.series(), interval=interval)
    assert len(found) == 1
    assert volumes.spikes[0].start <= found[0].alerted_at <= volumes.spikes[0].start + 3 * interval
    assert "in the last 5 minutes" in found[0].reason and "same time yesterday" in found[0].reason


def test_bad_input() -> None:
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="not after"):
        detect([(t0, 1), (t0, 2)])
    with pytest.raises(ValueError, match="not after"):
        detect([(t0 + HOUR, 1), (t0, 2)])
    with pytest.raises(ValueError, match="grid"):
        detect([(t0 + timedelta(minutes=7), 1)])
    with pytest.raises(ValueError, match="timezone-aware"):
        detect([(datetime(2026, 3, 2, 9), 1)])
    with pytest.raises(ValueError, match="negative"):
        detect([(t0, -1)])
    with pytest.raises(TypeError):
        detect([(t0, 1.5)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        detect([(t0, True)])
    with pytest.raises(ValueError, match="exceed"):
        detect([(t0, 1)], negative=[2])
    with pytest.raises(ValueError, match="negative has"):
        detect([(t0, 1)], negative=[0, 0])
    with pytest.raises(ValueError, match="pair"):
        detect([(t0, 1, 2)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="divides a day"):
        detect([(t0, 1)], interval=timedelta(minutes=7))
    with pytest.raises(ValueError, match="divides a day"):
        SpikeRegistry(interval=timedelta(0))
    with pytest.raises(ValueError):
        SpikeConfig(threshold=0.5, large=0.9)
    with pytest.raises(ValueError):
        SpikeConfig(min_ratio=0.5)
    with pytest.raises(ValueError, match="key"):
        SpikeRegistry().observe("", t0, 1)
    with pytest.raises(ValueError, match="does not fit"):
        generate(days=2, spikes=[SpikeSpec(start=40, length=10, size=2)])
    assert detect([]) == []
