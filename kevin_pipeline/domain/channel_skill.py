"""Is this channel skilled? Per channel (or per channel and ticker): how its scored calls did
against the market, how sure we can be, and a verdict a person can read.

Input: the long frame of `call_scoring.score_calls` (one row per call and horizon). Statistics per
group and horizon, over the calls `scored` at that horizon:

* `n_scored`, `n_open`, `n_unscored`; `mean` (simple abnormal return) and `mean_mm` (market model);
  `hit_rate` = share of scored calls with an abnormal return > 0.
* Calls that enter on the same session move together (one market day, often one video): they are
  one cluster. The t-statistic uses the cluster-robust standard error
  sqrt(G / (G - 1) x sum_g (S_g - n_g x mean)^2) / N  (S_g, n_g: sum and count of cluster g; G
  clusters, N calls), which is the ordinary s / sqrt(N) when every call has its own day.
* The confidence interval is a percentile bootstrap that resamples DAYS (clusters) with
  replacement, `n_boot` draws, from a generator seeded by `seed` and the group's name: the same
  inputs give the same interval, and adding a channel does not move another channel's interval.
* The verdict (`verdict_rule` is the text shown next to it): at the verdict horizon (20 sessions by
  default), `too few calls` under 30 scored calls, else `skilled` when the whole CI is above 0,
  `anti-skilled` when it is wholly below 0, `no evidence` when it contains 0.

The event study (`event_study`): the mean cumulative abnormal path from `call_scoring.abnormal_paths`
per day around the entry session, with the same day-clustered bootstrap band, overall or per group
(for example per conviction bucket, `conviction_bucket`).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from kevin_pipeline.domain.call_scoring import HORIZONS, STATUS_OPEN, STATUS_SCORED, STATUS_UNSCORED

VERDICT_HORIZON = 20
MIN_SCORED = 30
CONFIDENCE = 0.95
N_BOOT = 2000
SEED = 13

SKILLED, ANTI_SKILLED, NO_EVIDENCE, TOO_FEW = "skilled", "anti-skilled", "no evidence", "too few calls"
CONVICTION_BUCKETS = ("<0.6", "0.6-0.8", ">=0.8")
_DRAWS_PER_CHUNK = 4_000_000  # bootstrap weights held at once (rows x clusters), ~32 MB


def verdict_rule(horizon: int = VERDICT_HORIZON, min_scored: int = MIN_SCORED, confidence: float = CONFIDENCE,
                 n_boot: int = N_BOOT) -> str:
    pct = f"{confidence * 100:g} %"
    return (
        f"Verdict on the {horizon}-session abnormal return (the symbol's return minus the benchmark's, "
        f"from the first open after the video to the close {horizon} sessions later; sells and avoids "
        f"count reversed): '{TOO_FEW}' under {min_scored} scored calls; otherwise '{SKILLED}' when the "
        f"whole {pct} confidence interval of the mean is above 0, '{ANTI_SKILLED}' when it is wholly "
        f"below 0, '{NO_EVIDENCE}' when it contains 0. The interval is a bootstrap of {n_boot} draws "
        "that resamples days, not calls (calls entering on the same session count as one cluster), "
        "seeded so it repeats."
    )


def verdict(n_scored: int, ci_low: float, ci_high: float, min_scored: int = MIN_SCORED) -> str:
    if n_scored < min_scored:
        return TOO_FEW
    if ci_low > 0:
        return SKILLED
    if ci_high < 0:
        return ANTI_SKILLED
    return NO_EVIDENCE


def group_rng(seed: int, key: object) -> np.random.Generator:
    """A generator fixed by the seed and the group's name (not by its position among groups)."""
    return np.random.default_rng([seed, zlib.crc32(repr(key).encode())])


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def cluster_bootstrap_means(sums: np.ndarray, counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot x m) bootstrap means: each draw picks G clusters with replacement and divides the
    picked clusters' summed values by their summed counts, for each of the m columns at once.

    `sums`, `counts`: (G x m), per cluster the sum and the number of observations of each column
    (a column can have fewer observations in some clusters, e.g. a horizon still open).
    """
    n_clusters, m = sums.shape
    out = np.full((n_boot, m), np.nan)
    if n_clusters == 0:
        return out
    both = np.ascontiguousarray(np.concatenate([sums, counts], axis=1), dtype=float)  # one matmul
    step = max(1, _DRAWS_PER_CHUNK // n_clusters)
    # One BLAS thread: these products are small, and a busy machine makes OpenBLAS's thread hand-off
    # cost 50x the product itself (measured: 20 ms against 0.4 ms for a 1000 x 250 x 8 product).
    with _blas().limit(limits=1, user_api="blas"):
        for start in range(0, n_boot, step):  # chunks of draws, so memory stays bounded
            b = min(step, n_boot - start)
            picks = rng.integers(0, n_clusters, size=(b, n_clusters)) + (np.arange(b) * n_clusters)[:, None]
            weights = np.bincount(picks.ravel(), minlength=b * n_clusters).reshape(b, n_clusters).astype(float)
            drawn = weights @ both
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start : start + b] = drawn[:, :m] / drawn[:, m:]
    return out


def _cluster_sums(cluster: np.ndarray, n_clusters: int, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster and column, the sum and count of the non-NaN values ((N x m) -> (G x m) twice)."""
    ok = ~np.isnan(values)
    sums = np.stack([np.bincount(cluster, weights=np.where(ok[:, j], values[:, j], 0.0), minlength=n_clusters)
                     for j in range(values.shape[1])], axis=1)
    counts = np.stack([np.bincount(cluster, weights=ok[:, j].astype(float), minlength=n_clusters)
                       for j in range(values.shape[1])], axis=1)
    return sums, counts


def cluster_t(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cluster-robust t-statistic of the mean, per column (module docstring); NaN with fewer than
    two clusters or no spread."""
    n = counts.sum(axis=0)
    g = (counts > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(axis=0) / n
        var = g / (g - 1) * ((sums - counts * mean) ** 2).sum(axis=0) / n**2
        se = np.sqrt(var)
        t = mean / se
    # no spread (to float precision: identical values leave ~1e-19 of rounding) -> no t
    return np.where((g >= 2) & (se > 1e-9 * np.abs(mean)) & (se > 0), t, np.nan)


def _interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - confidence) / 2 * 100
    if boot.size == 0 or np.isnan(boot).all():
        return np.full(boot.shape[1], np.nan), np.full(boot.shape[1], np.nan)
    with warnings.catch_warnings():  # a column no draw reaches (a day past every path) is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(boot, [tail, 100 - tail], axis=0)
    return lo, hi


def skill_table(
    scores: pd.DataFrame,
    by: Sequence[str] = ("channel",),
    *,
    horizons: Sequence[int] = HORIZONS,
    verdict_horizon: int = VERDICT_HORIZON,
    min_scored: int = MIN_SCORED,
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> pd.DataFrame:
    """One row per group of `by`: `calls`, then per horizon h the columns `n_scored_h`, `n_open_h`,
    `n_unscored_h`, `mean_h`, `mean_mm_h`, `hit_rate_h`, `t_h`, `ci_low_h`, `ci_high_h`; then
    `verdict` and `rule` (see the module docstring). Returns are fractions."""
    if verdict_horizon not in horizons:
        raise ValueError(f"the verdict horizon {verdict_horizon} is not among the horizons {list(horizons)}")
    rule = verdict_rule(verdict_horizon, min_scored, confidence, n_boot)
    stats = ("n_scored", "n_open", "n_unscored", "mean", "mean_mm", "hit_rate", "t", "ci_low", "ci_high")
    columns = [*by, "calls", *(f"{s}_{h}" for h in horizons for s in stats), "verdict", "rule"]
    rows = []
    scores = scores[scores["horizon"].isin(list(horizons))]
    for key, group in scores.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        days, cluster = np.unique(group["entry_date"].to_numpy(), return_inverse=True)
        status = group["status"].to_numpy()
        horizon = group["horizon"].to_numpy()
        scored = status == STATUS_SCORED
        # (N x H): each row's value in its own horizon's column, NaN elsewhere and when not scored
        col = pd.Series(horizon).map({h: j for j, h in enumerate(horizons)}).to_numpy(dtype=np.int64)
        values = np.full((len(group), len(horizons)), np.nan)
        values[np.flatnonzero(scored), col[scored]] = group["abnormal_return"].to_numpy(dtype=float)[scored]
        sums, counts = _cluster_sums(cluster, len(days), values)
        boot = cluster_bootstrap_means(sums, counts, n_boot, group_rng(seed, key))
        lo, hi = _interval(boot, confidence)
        t = cluster_t(sums, counts)
        row: dict[str, object] = dict(zip(by, key))
        row["calls"] = int((horizon == horizons[0]).sum())
        for j, h in enumerate(horizons):
            at = horizon == h
            x = values[:, j][at & scored]
            mm = group["abnormal_return_mm"].to_numpy(dtype=float)[at & scored]
            row[f"n_scored_{h}"] = len(x)
            row[f"n_open_{h}"] = int((at & (status == STATUS_OPEN)).sum())
            row[f"n_unscored_{h}"] = int((at & (status == STATUS_UNSCORED)).sum())
            row[f"mean_{h}"] = float(x.mean()) if len(x) else np.nan
            row[f"mean_mm_{h}"] = float(np.nanmean(mm)) if np.isfinite(mm).any() else np.nan
            row[f"hit_rate_{h}"] = float((x > 0).mean()) if len(x) else np.nan
            row[f"t_{h}"], row[f"ci_low_{h}"], row[f"ci_high_{h}"] = float(t[j]), float(lo[j]), float(hi[j])
        v = list(horizons).index(verdict_horizon)
        row["verdict"] = verdict(int(row[f"n_scored_{verdict_horizon}"]), float(lo[v]), float(hi[v]), min_scored)
        row["rule"] = rule
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def conviction_bucket(conviction: pd.Series) -> pd.Series:
    """'<0.6', '0.6-0.8' or '>=0.8' (left-closed bins); NaN conviction stays NaN."""
    return pd.cut(pd.to_numeric(conviction), [-np.inf, 0.6, 0.8, np.inf], right=False,
                  labels=list(CONVICTION_BUCKETS)).astype(object)


EVENT_COLUMNS = ["day", "n", "mean_car", "ci_low", "ci_high"]


def event_study(
    calls: pd.DataFrame,
    paths: np.ndarray,
    *,
    pre: int = 10,
    by: str | Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> pd.DataFrame:
    """Mean cumulative abnormal return per day (-pre .. +post) with its day-clustered bootstrap
    band; `calls`/`paths` as `call_scoring.abnormal_paths` returns them. With `by` (columns of
    `calls`, e.g. the channel and a conviction bucket), one block of rows per group, the group's
    values in those columns. `n` = calls whose path reaches that day."""
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    days = np.arange(paths.shape[1]) - pre
    if not keys:
        groups = [((), np.arange(len(calls)))] if len(calls) else []
    else:
        found = calls.reset_index(drop=True).groupby(keys, sort=True).indices
        groups = [(k if isinstance(k, tuple) else (k,), rows) for k, rows in sorted(found.items())]
    frames = []
    for key, rows in groups:
        sub = paths[rows]
        clusters, cluster = np.unique(calls["entry_date"].to_numpy()[rows], return_inverse=True)
        sums, counts = _cluster_sums(cluster, len(clusters), sub)
        boot = cluster_bootstrap_means(sums, counts, n_boot, group_rng(seed, key))
        lo, hi = _interval(boot, confidence)
        n = counts.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums.sum(axis=0) / n
        frame = pd.DataFrame({"day": days, "n": n.astype(int), "mean_car": mean, "ci_low": lo, "ci_high": hi})
        for name, value in reversed(list(zip(keys, key))):
            frame.insert(0, name, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*keys, *EVENT_COLUMNS])
