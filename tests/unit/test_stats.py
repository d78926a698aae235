"""The statistics against known distributions: the interval of the median covers the true
median at the stated rate, outliers are flagged, ratios and warnings say what they should."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seatrial.reports.stats import (
    inconclusive,
    median_interval,
    paired_ratio_interval,
    ratio_interval,
    summarize,
    tukey_outliers,
)


@pytest.mark.parametrize("n", [10, 20, 40])
@pytest.mark.parametrize(
    "draw, true_median",
    [
        (lambda rng, n: rng.exponential(1.0, n), math.log(2)),  # skewed, like start times
        (lambda rng, n: rng.lognormal(0.0, 0.5, n), 1.0),
        (lambda rng, n: rng.normal(5.0, 1.0, n), 5.0),
    ],
)
def test_median_interval_covers_true_median_at_stated_rate(n, draw, true_median):
    rng = np.random.default_rng(12345 + n)
    hits = sum(_covers(draw(rng, n), true_median) for _ in range(1000))
    assert 0.92 <= hits / 1000 <= 0.98


def _covers(sample, true_median) -> bool:
    interval = median_interval(sample)
    return interval.low <= true_median <= interval.high


def test_median_interval_states_its_actual_coverage():
    assert median_interval(range(20)).coverage == pytest.approx(0.9586, abs=1e-3)
    tiny = median_interval([1.0, 2.0, 3.0])
    assert (tiny.low, tiny.high) == (1.0, 3.0) and tiny.coverage < 0.95


def test_outliers_are_flagged_not_dropped():
    values = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 9.0]
    assert tukey_outliers(values) == (6,)
    summary = summarize(values)
    assert summary.n == 7 and summary.outliers == (6,) and summary.maximum == 9.0


def test_ratio_interval_contains_the_true_ratio_and_is_reproducible():
    rng = np.random.default_rng(7)
    a, b = rng.normal(2.0, 0.1, 30), rng.normal(1.0, 0.05, 30)
    r = ratio_interval(a, b)
    assert r.low < 2.0 < r.high and r == ratio_interval(a, b)


def test_overlapping_or_noisy_samples_are_inconclusive():
    rng = np.random.default_rng(3)
    same = summarize(rng.normal(1.0, 0.05, 20)), summarize(rng.normal(1.0, 0.05, 20))
    apart = summarize(rng.normal(1.0, 0.02, 20)), summarize(rng.normal(2.0, 0.02, 20))
    noisy = summarize(rng.exponential(1.0, 20))
    assert "the 95% intervals of the medians overlap" in inconclusive(*same)
    assert inconclusive(*apart) == []
    assert any("high spread" in w for w in noisy.warnings)


def test_paired_ratios_cancel_drift_that_widens_a_ratio_of_medians():
    """Rounds whose machine drifts (each round x0.6 .. x1.6) with a true 3% overhead: pairing
    divides the drift out, a ratio of medians taken apart cannot."""
    rng = np.random.default_rng(7)
    drift = rng.uniform(0.6, 1.6, 300)
    shell = 0.25 * drift * rng.lognormal(0.0, 0.01, 300)
    ours = 0.25 * 1.03 * drift * rng.lognormal(0.0, 0.01, 300)
    paired = paired_ratio_interval(ours, shell)
    unpaired = ratio_interval(ours, shell)
    # (coverage is the next test's business; here: close to the truth, and narrow)
    assert abs(paired.estimate - 1.03) < 0.003 and paired.low < paired.estimate < paired.high
    assert paired.high - paired.low < 0.01
    assert unpaired.high - unpaired.low > 5 * (paired.high - paired.low)


def test_paired_ratio_interval_covers_the_true_ratio_at_the_stated_rate():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(400):
        drift = rng.uniform(0.5, 2.0, 60)
        hits += _covers_ratio(drift * rng.lognormal(0.02, 0.05, 60), drift, math.exp(0.02))
    assert 0.92 <= hits / 400 <= 0.99


def _covers_ratio(ours, theirs, true_ratio) -> bool:
    interval = paired_ratio_interval(ours, theirs)
    return interval.low <= true_ratio <= interval.high


def test_paired_samples_must_pair():
    with pytest.raises(ValueError, match="paired samples differ in number: 3 and 2"):
        paired_ratio_interval([1.0, 2.0, 3.0], [1.0, 2.0])
