"""Synthetic reshare cascades with known parameters, for testing and fitting the reach forecast.

The process is the one SEISMIC (Zhao et al., KDD 2015) and TiDeH (Kobayashi & Lambiotte, ICWSM
2016) assume for retweet cascades: a self-exciting point process whose intensity at time `t` (seconds
since the original post) is

    lambda(t) = p(t) * sum_i n_i * phi(t - t_i)

where `n_i` is the follower count of the i-th poster (the original author first, at t=0), `phi` is
the memory kernel -- constant for the first `s0` = 5 minutes, then a power law with exponent
`1 + theta` -- and `p(t)` is the infectiousness per follower, which decays (exponentially with time
constant `tau`, as in TiDeH) and follows a daily cycle (amplitude `circadian`). Resharers' follower
counts are log-normal with a heavy upper tail (log-sd up to 2: one resharer in a thousand has tens
of thousands of followers).

What makes these cascades look like real ones (docs/reach-forecast.md argues each):

* SEISMIC's kernel with its published constants as the centre: `s0` = 300 s and `theta` drawn per
  post around the published 0.242 (0.15-0.30), since audiences differ in how long they keep
  resharing;
* an "online followers" burst: a share `burst` (0-40%) of the author's direct reshares come from
  followers who are online when the post appears and reshare within a minute or two (exponential
  delay, mean 20-120 s) -- the kernel alone, flat for 5 minutes, cannot produce the front-loaded
  first minutes of real cascades;
* infectiousness that fades (tau 6 h - 30 days) and varies with the time of day;
* most posts never take off (65% subcritical, a handful of reshares), a minority near or above
  critical at the start, held back only by fading infectiousness and the 7-day horizon.

Cascades are drawn with the cluster (branching) representation, generation by generation: each
poster `i` gets Poisson(n_i * p_max) candidate children at delays drawn from `phi`, each kept with
probability p(t_i + delay) / p_max and if it falls before the horizon (7 days, the span of the
public Twitter sample). That is an exact draw of the process above, in O(size) numpy work.

Every number here is a prior from the literature or chosen by hand; none was fitted to the research
cascades in `../shared/datasets/cascades/` (which may only be used to measure). Their summary
figures were looked at to decide which mechanisms to add (see docs/reach-forecast.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

THETA = 0.242  # SEISMIC's power-law exponent of the memory kernel
S0 = 300.0  # seconds the kernel stays flat (SEISMIC: 5 minutes)
HORIZON = 7 * 86400.0  # "final" size: posts within 7 days
DAY = 86400.0
MAX_EVENTS = 60_000  # a runaway (supercritical) draw is cut here and flagged `truncated`


@dataclass(frozen=True)
class CascadeParams:
    """Known parameters of one synthetic cascade."""

    root_followers: float
    p0: float  # infectiousness per follower at t=0 (peak of the daily cycle aside)
    follower_median: float = 250.0  # resharers' followers: log-normal median ...
    follower_sigma: float = 1.6  # ... and log-sd
    tau: float = math.inf  # infectiousness decay time constant, seconds (TiDeH); inf = none
    circadian: float = 0.0  # amplitude r of the daily cycle, 0 <= r < 1
    phase: float = 0.0  # fraction of a day at which the post was made
    theta: float = THETA
    s0: float = S0
    burst: float = 0.0  # share of the author's direct reshares from followers online at posting time ...
    burst_scale: float = 60.0  # ... who reshare after an exponential delay with this mean (seconds)
    horizon: float = HORIZON

    @property
    def mean_followers(self) -> float:
        return self.follower_median * math.exp(self.follower_sigma**2 / 2)

    @property
    def branching(self) -> float:
        """Expected children of a typical resharer at t=0 with an unbounded horizon (p0 * E[n])."""
        return self.p0 * self.mean_followers

    def infectiousness(self, t: np.ndarray) -> np.ndarray:
        cycle = 1.0 - self.circadian * np.sin(2 * np.pi * (t / DAY + self.phase))
        return self.p0 * cycle * np.exp(-t / self.tau)


@dataclass
class Cascade:
    """One drawn cascade: reshare times (sorted, seconds since the post) and their posters' followers.
    The original post is not among `times`; `final` counts reshares within the horizon."""

    params: CascadeParams
    times: np.ndarray
    followers: np.ndarray
    truncated: bool = False
    final: int = field(init=False)

    def __post_init__(self) -> None:
        self.final = int(self.times.size)

    def count_at(self, t: float) -> int:
        return int(np.searchsorted(self.times, t, side="right"))

    def events_until(self, t: float) -> list[tuple[float, float]]:
        k = self.count_at(t)
        return list(zip(self.times[:k].tolist(), self.followers[:k].tolist(), strict=True))

    def snapshots(self, at: list[float] | np.ndarray) -> list[tuple[float, int]]:
        return [(float(t), self.count_at(float(t))) for t in at]


def kernel_delays(rng: np.random.Generator, size: int, theta: float = THETA, s0: float = S0) -> np.ndarray:
    """Draw delays from the normalised kernel: uniform on [0, s0] with probability theta/(1+theta),
    else Pareto(theta) beyond s0."""
    u = rng.random(size)
    flat = u < theta / (1 + theta)
    out = np.empty(size)
    out[flat] = rng.random(int(flat.sum())) * s0
    n_tail = size - int(flat.sum())
    out[~flat] = s0 * rng.random(n_tail) ** (-1.0 / theta)
    return out


def simulate(params: CascadeParams, rng: np.random.Generator | int | None = None) -> Cascade:
    """Draw one cascade with the given parameters."""
    rng = np.random.default_rng(rng)
    p_max = params.p0 * (1 + params.circadian)
    times: list[np.ndarray] = []
    followers: list[np.ndarray] = []
    parent_t = np.array([0.0])
    parent_n = np.array([float(params.root_followers)])
    total = 0
    truncated = False
    first = True
    while parent_t.size:
        k = rng.poisson(parent_n * p_max)
        n_kids = int(k.sum())
        if n_kids == 0:
            break
        delays = kernel_delays(rng, n_kids, params.theta, params.s0)
        if first and params.burst > 0:
            online = rng.random(n_kids) < params.burst
            delays[online] = rng.exponential(params.burst_scale, int(online.sum()))
        first = False
        t = np.repeat(parent_t, k) + delays
        keep = t < params.horizon
        t = t[keep]
        keep = rng.random(t.size) * p_max < params.infectiousness(t)
        t = t[keep]
        if t.size == 0:
            break
        n = np.maximum(
            1.0, np.round(rng.lognormal(math.log(params.follower_median), params.follower_sigma, t.size))
        )
        times.append(t)
        followers.append(n)
        total += t.size
        if total > MAX_EVENTS:
            truncated = True
            break
        parent_t, parent_n = t, n
    if not times:
        return Cascade(params, np.empty(0), np.empty(0), truncated)
    all_t = np.concatenate(times)
    all_n = np.concatenate(followers)
    order = np.argsort(all_t, kind="stable")
    return Cascade(params, all_t[order], all_n[order], truncated)


def sample_params(rng: np.random.Generator, *, viral_share: float = 0.35) -> CascadeParams:
    """A random cascade from a broad prior: most posts never take off (subcritical, few reshares);
    `viral_share` of them are near or above critical at the start and are held back only by decaying
    infectiousness and the horizon. Hand-chosen ranges (see docs/reach-forecast.md)."""
    median = float(np.exp(rng.uniform(math.log(100), math.log(600))))
    sigma = float(rng.uniform(1.2, 2.0))
    mean_n = median * math.exp(sigma**2 / 2)
    viral = rng.random() < viral_share
    branching = float(rng.uniform(0.7, 1.5)) if viral else float(rng.uniform(0.02, 0.8))
    tau = float(np.exp(rng.uniform(math.log(6 * 3600), math.log(30 * DAY))))
    root = float(np.exp(rng.uniform(math.log(30), math.log(1e7))))
    # Keep the root's direct audience response in a believable range: at most ~2% of followers.
    p0 = branching / mean_n
    if p0 > 0.02:
        p0 = 0.02
    return CascadeParams(
        root_followers=round(root),
        theta=float(rng.uniform(0.15, 0.30)),
        burst=float(rng.uniform(0.0, 0.4)),
        burst_scale=float(np.exp(rng.uniform(math.log(20.0), math.log(120.0)))),
        p0=p0,
        follower_median=median,
        follower_sigma=sigma,
        tau=tau,
        circadian=float(rng.uniform(0.0, 0.5)),
        phase=float(rng.random()),
    )


def population(n: int, seed: int = 0, *, viral_share: float = 0.35, min_size: int = 0) -> list[Cascade]:
    """`n` cascades from `sample_params`, seeded; those smaller than `min_size` are redrawn."""
    rng = np.random.default_rng(seed)
    out: list[Cascade] = []
    while len(out) < n:
        c = simulate(sample_params(rng, viral_share=viral_share), rng)
        if c.final >= min_size and not c.truncated:
            out.append(c)
    return out
