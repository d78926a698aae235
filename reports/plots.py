"""Plots as inline SVG text (matplotlib, Agg): the HTML page needs no network and no files.

SVG output is made reproducible (fixed hash salt, no date) so that rendering the same results
twice gives the same page. Each function returns "" when there is nothing to draw.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from seatrial.reports.results import Results, kept_samples  # noqa: E402

matplotlib.rcParams.update({"svg.hashsalt": "seatrial", "svg.fonttype": "none", "font.size": 9})
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]   # drop the XML prolog and DOCTYPE: inline in HTML


def _scale(unit: str, values) -> tuple[float, str]:
    if unit == "s":
        return (1000.0, "ms") if max(values, default=0) < 10 else (1.0, "s")
    if unit == "bytes":
        return 1 / 2 ** 20, "MiB"
    return 1.0, unit


def distributions(results: Results) -> dict[str, str]:
    """Per scenario/metric: every sample per engine (dots) over a box plot, one SVG each."""
    samples = kept_samples(results)
    out = {}
    for (scenario, metric), group in samples.groupby(["scenario", "metric"], sort=True):
        columns = list(dict.fromkeys(group["column"]))
        factor, unit = _scale(group["unit"].iloc[0], group["value"])
        data = [group[group["column"] == c]["value"].to_numpy() * factor for c in columns]
        if max(len(d) for d in data) < 2:
            continue   # one sample per engine (sizes): the timing table says it all
        fig, ax = plt.subplots(figsize=(4.2, 0.5 + 0.45 * len(columns)))
        ax.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
        for i, values in enumerate(data, start=1):
            jitter = [i + ((k % 5) - 2) * 0.05 for k in range(len(values))]
            ax.scatter(values, jitter, s=9, alpha=0.6, color=COLOURS[(i - 1) % len(COLOURS)], zorder=3)
        ax.set_yticks(range(1, len(columns) + 1), columns)
        ax.set_xlabel(f"{metric} ({unit})")
        ax.set_title(f"{scenario}: {metric}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        out[f"{scenario}/{metric}"] = _svg(fig)
    return out


def ratios(rows: list[dict], title: str, key: str) -> str:
    """Ratios with their 95% intervals as error bars, with 1 (no difference) marked."""
    rows = [r for r in rows if r.get(key) is not None]
    if not rows:
        return ""
    est = {"ratio": ("ratio", "ratio_low", "ratio_high"), "estimate": ("estimate", "low", "high")}[key]
    labels = [f"{r.get('metric') or r.get('ratio')} [{r['engine']}]" for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 0.5 + 0.28 * len(rows)))
    y = range(len(rows))
    mid = [r[est[0]] for r in rows]
    ax.errorbar(mid, y, xerr=[[m - r[est[1]] for m, r in zip(mid, rows)], [r[est[2]] - m for m, r in zip(mid, rows)]],
                fmt="o", color=COLOURS[0], capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(list(y), labels)
    ax.set_xscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3, which="both")
    return _svg(fig)


def density_curve(rows: list[dict]) -> str:
    """Containers up at once against time until all run and memory per container."""
    if not rows:
        return ""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, suffix, label in ((axes[0], "", "time until all run (s)"), (axes[1], ".memory", "memory per container (MiB)")):
        for i, engine in enumerate(dict.fromkeys(r["engine"] for r in rows)):
            mine = [r for r in rows if r["engine"] == engine and r["metric"].endswith(suffix)
                    and (suffix or not r["metric"].endswith(".memory"))]
            if not mine:
                continue
            scale = 1 / 2 ** 20 if suffix else 1.0
            x = [r["containers"] for r in mine]
            ax.errorbar(x, [r["median"] * scale for r in mine],
                        yerr=[[(r["median"] - r["ci_low"]) * scale for r in mine],
                              [(r["ci_high"] - r["median"]) * scale for r in mine]],
                        marker="o", capsize=3, label=engine, color=COLOURS[i % len(COLOURS)])
        ax.set_xlabel("containers up at once")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _svg(fig)


def history(rows: list[dict]) -> str:
    """Median per run over time, one line per metric and engine (needs two runs or more)."""
    series: dict[str, list[dict]] = {}
    for r in rows:
        series.setdefault(f"{r['metric']} [{r['engine']}]", []).append(r)
    series = {k: v for k, v in series.items() if len(v) > 1}
    if not series:
        return ""
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (label, points) in enumerate(sorted(series.items())):
        ax.plot(range(len(points)), [p["median"] for p in points], marker="o", label=label,
                color=COLOURS[i % len(COLOURS)])
    ax.set_xlabel("run (oldest first)")
    ax.set_ylabel("median")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _svg(fig)
