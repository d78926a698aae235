"""Statistics of benchmark samples: robust summaries with intervals, never a bare number.

Container timings are skewed and have outliers (a GC in dockerd, a page-cache miss), so the
centre is the median and its 95% interval comes from order statistics (distribution-free: the
number of samples below the true median is Binomial(n, 1/2)). Ratios between engines get a
bootstrap interval of the ratio of medians. A comparison whose intervals overlap, or whose
spread is high, is flagged inconclusive: a warning for the reader, never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CONFIDENCE = 0.95
HIGH_CV = 0.20  # above this spread a median moves with every run; say so
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """An interval [low, high] around an estimate, and the confidence it actually has."""

    estimate: float
    low: float
    high: float
    coverage: float

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class Summary:
    """One metric on one engine: what a reader needs to trust (or distrust) its median."""

    n: int
    median: Interval
    mean: float
    p90: float
    p99: float
    minimum: float
    maximum: float
    cv: float  # standard deviation / mean
    outliers: tuple[int, ...] = field(default=())  # indexes of samples past Tukey's fences

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.cv > HIGH_CV:
            found.append(f"high spread (CV {self.cv:.0%} > {HIGH_CV:.0%}): run more rounds or on a quieter machine")
        if self.n > 1 and self.median.coverage < CONFIDENCE:  # one sample: a size, not a timing
            found.append(
                f"only {self.n} samples: the interval holds {self.median.coverage:.0%}, "
                f"not {CONFIDENCE:.0%}; run at least 6 rounds"
            )
        return found


def _binom_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), exactly (n is small: rounds of a benchmark)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """The median and a distribution-free interval from order statistics x(l) .. x(n-l+1).

    l is the largest rank with P(B <= l-1) <= (1-confidence)/2, so the interval's coverage is at
    least `confidence` (more, since B is discrete). Below 6 samples no 95% interval exists: the
    range is returned with the coverage it has."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        raise ValueError("no samples")
    tail = (1 - confidence) / 2
    rank = 0
    while rank + 1 <= n // 2 and _binom_cdf(rank, n) <= tail:
        rank += 1
    rank = max(rank, 1)  # 1-based lower rank; rank 1 is the range
    coverage = 1 - 2 * _binom_cdf(rank - 1, n)
    return Interval(float(np.median(x)), float(x[rank - 1]), float(x[n - rank]), coverage)


def tukey_outliers(values) -> tuple[int, ...]:
    """Indexes of samples outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR]: flagged, never dropped."""
    x = np.asarray(values, dtype=float)
    if len(x) < 4:
        return ()
    q1, q3 = np.percentile(x, [25, 75])
    spread = 1.5 * (q3 - q1)
    return tuple(int(i) for i in np.flatnonzero((x < q1 - spread) | (x > q3 + spread)))


def summarize(values) -> Summary:
    """Median with its interval, mean, p90, p99, range, CV and outliers of raw samples."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    return Summary(
        n=len(x),
        median=median_interval(x),
        mean=mean,
        p90=float(np.percentile(x, 90)),
        p99=float(np.percentile(x, 99)),
        minimum=float(x.min()),
        maximum=float(x.max()),
        cv=std / mean if mean else 0.0,
        outliers=tukey_outliers(x),
    )


def ratio_interval(
    numerator, denominator, confidence: float = CONFIDENCE, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Interval:
    """median(numerator) / median(denominator) with a percentile-bootstrap interval.

    Seeded so that a report rendered twice from the same samples is the same report."""
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    estimate = float(np.median(a) / np.median(b))
    rng = np.random.default_rng(seed)
    ratios = np.median(rng.choice(a, (resamples, len(a))), axis=1) / np.median(
        rng.choice(b, (resamples, len(b))), axis=1
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), confidence)


def paired_ratio_interval(numerator, denominator, confidence: float = CONFIDENCE) -> Interval:
    """The median of per-pair ratios numerator[i] / denominator[i], with the order-statistics
    interval of that median.

    For two ways of doing the same thing measured in the same rounds (the harness and a shell
    script, side by side): what drifts between rounds (the machine's load, dockerd's state)
    divides out of each pair's ratio, so the interval is much narrower than that of a ratio of
    two medians taken apart. The pairs must be aligned: sample i of each side from round i."""
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in number: {len(a)} and {len(b)}")
    return median_interval(a / b, confidence)


def inconclusive(a: Summary, b: Summary) -> list[str]:
    """Why comparing a with b should not be read as a difference (empty: it can be)."""
    reasons = []
    if a.median.overlaps(b.median):
        reasons.append("the 95% intervals of the medians overlap")
    for which, summary in (("first", a), ("second", b)):
        if summary.cv > HIGH_CV:
            reasons.append(f"the {which} has a high spread (CV {summary.cv:.0%})")
    return reasons
