"""The local reach correction written by `cuida train-reach` to CUIDA_DATA_DIR/models is picked up by
the forecaster by itself, read once per version of the file, re-read when it changes, and
CUIDA_REACH_CORRECTION still wins."""

from __future__ import annotations

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from cuida import cli
from cuida.listening import reach
from cuida.listening.reach import (
    CORRECTION_ENV,
    CORRECTION_FILE,
    LOCAL_NAME,
    LocalCorrection,
    fit_local,
    forecast,
)
from cuida.listening.synthetic import population

SNAPS = [(600, 6), (1800, 21), (3600, 58)]


def _rows(c, stretch: float = 4.0):
    return np.vstack([[0.0, c.params.root_followers], np.column_stack([c.times * stretch, c.followers])])


@pytest.fixture(scope="module")
def cascades():
    return [_rows(c) for c in population(40, seed=57, min_size=100)]


@pytest.fixture(scope="module")
def at_one_hour(cascades):
    return fit_local(cascades, times=(3600.0,))


@pytest.fixture(scope="module")
def at_ten_minutes(cascades):
    # Fitted only at 10 minutes: it does not apply to a forecast made at one hour.
    return fit_local(cascades, times=(600.0,))


@pytest.fixture
def data_dir(runtime, monkeypatch):
    monkeypatch.delenv(CORRECTION_ENV, raising=False)
    return runtime.settings.data_dir


def test_the_default_file_is_applied_when_present_and_reloaded_when_it_changes(
    data_dir, at_one_hour, at_ten_minutes, monkeypatch
):
    path = data_dir / CORRECTION_FILE
    shipped = forecast(SNAPS, followers=2100)
    assert LOCAL_NAME not in shipped.model  # no file: the shipped model alone

    path.parent.mkdir(parents=True, exist_ok=True)
    at_one_hour.save(path)
    loads = []
    real_load = LocalCorrection.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls, p):
        loads.append(p)
        return real_load(cls, p)

    monkeypatch.setattr(LocalCorrection, "load", classmethod(counting_load))
    first = forecast(SNAPS, followers=2100)
    assert LOCAL_NAME in first.model
    assert first == forecast(SNAPS, followers=2100, correction=at_one_hour)
    for _ in range(5):
        assert forecast(SNAPS, followers=2100) == first
    assert len(loads) == 1  # cached: one read for six forecasts

    at_ten_minutes.save(path)  # a retrain replaces the file
    changed = forecast(SNAPS, followers=2100)
    assert len(loads) == 2
    assert LOCAL_NAME not in changed.model and changed == shipped

    at_one_hour.save(path)
    assert forecast(SNAPS, followers=2100) == first
    path.unlink()
    assert forecast(SNAPS, followers=2100) == shipped


def test_a_broken_default_file_is_ignored_but_a_broken_named_file_is_an_error(data_dir, monkeypatch, tmp_path):
    path = data_dir / CORRECTION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"name": "half a fi')
    shipped = forecast(SNAPS, followers=2100, correction=False)
    assert forecast(SNAPS, followers=2100) == shipped
    assert forecast(SNAPS, followers=2100) == shipped  # and not re-read until it changes
    assert str(path) in reach._refused

    named = tmp_path / "named.json"
    named.write_text("{}")
    monkeypatch.setenv(CORRECTION_ENV, str(named))
    with pytest.raises(ValueError):
        forecast(SNAPS, followers=2100)
    monkeypatch.setenv(CORRECTION_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError):
        forecast(SNAPS, followers=2100)


def test_the_environment_wins_over_the_default_file(data_dir, at_one_hour, at_ten_minutes, monkeypatch, tmp_path):
    path = data_dir / CORRECTION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    at_one_hour.save(path)
    assert LOCAL_NAME in forecast(SNAPS, followers=2100).model
    other = tmp_path / "other.json"
    at_ten_minutes.save(other)
    monkeypatch.setenv(CORRECTION_ENV, str(other))
    assert forecast(SNAPS, followers=2100) == forecast(SNAPS, followers=2100, correction=at_ten_minutes)
    assert LOCAL_NAME not in forecast(SNAPS, followers=2100).model
    assert forecast(SNAPS, followers=2100, correction=False) == forecast(
        SNAPS, followers=2100, correction=at_ten_minutes
    )


def test_train_reach_writes_the_default_file_the_forecaster_then_uses(data_dir, cascades, monkeypatch, tmp_path):
    folder = tmp_path / "cascades"
    folder.mkdir()
    for i, rows in enumerate(cascades[:25]):
        lines = [f"{rows.shape[0]} 0.5"] + [f"{t:.0f} {n:.0f}" for t, n in rows]
        (folder / f"post{i}.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("CUIDA_DATA_DIR", str(data_dir))
    assert LOCAL_NAME not in forecast(SNAPS, followers=2100).model
    result = CliRunner().invoke(cli.app, ["train-reach", str(folder)])
    assert result.exit_code == 0, result.output
    assert "applied from now on" in " ".join(result.output.split())
    written = data_dir / CORRECTION_FILE
    assert written.exists() and not [p for p in os.listdir(written.parent) if p.endswith(".tmp")]
    assert LOCAL_NAME in forecast(SNAPS, followers=2100).model
