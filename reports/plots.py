"""Plots as inline SVG text (matplotlib, Agg): the HTML page needs no network and no files.

SVG output is made reproducible (fixed hash salt, no date) so that rendering the same results
twice gives the same page. Each function returns "" when there is nothing to draw.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from seatrial.reports import numbers
from seatrial.reports.results import Results, kept_samples

matplotlib.rcParams.update({"svg.hashsalt": "seatrial", "svg.fonttype": "none", "font.size": 9})
# matplotlib's tab10; with the markers and line styles below, the first 40 series all differ.
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", ":", "-."]


def style(i: int) -> dict:
    """The i-th series' colour, marker and line style: no two of the first 40 are alike."""
    return {
        "color": COLOURS[i % len(COLOURS)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINESTYLES[(i // len(COLOURS)) % len(LINESTYLES)],
    }


def _legend_outside(ax, **kwargs) -> None:
    """The legend right of the plot, never over the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=7, **kwargs)


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: inline in HTML


def _scale(unit: str, values) -> tuple[float, str]:
    return numbers.scale(unit, max(values, default=0))


def distributions(results: Results) -> dict[str, str]:
    """Per scenario/metric: every sample per engine (dots) over a box plot, one SVG each."""
    samples = kept_samples(results)
    out = {}
    for (scenario, metric), group in samples.groupby(["scenario", "metric"], sort=True):
        columns = list(dict.fromkeys(group["column"]))
        factor, unit = _scale(group["unit"].iloc[0], group["value"])
        data = [group[group["column"] == c]["value"].to_numpy() * factor for c in columns]
        if max(len(d) for d in data) < 2:
            continue  # one sample per engine (sizes): the timing table says it all
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
    ax.errorbar(
        mid,
        y,
        xerr=[[m - r[est[1]] for m, r in zip(mid, rows)], [r[est[2]] - m for m, r in zip(mid, rows)]],
        fmt="o",
        color=COLOURS[0],
        capsize=3,
    )
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(list(y), labels)
    ax.set_xscale("log")
    ax.set_xlabel("ratio, log scale (1: no difference)")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3, which="both")
    return _svg(fig)


def density_curve(rows: list[dict]) -> str:
    """Containers up at once against time until all run and memory per container."""
    if not rows:
        return ""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, suffix, label in (
        (axes[0], "", "time until all run (s)"),
        (axes[1], ".memory", "memory per container (MiB)"),
    ):
        for i, engine in enumerate(dict.fromkeys(r["engine"] for r in rows)):
            mine = [
                r
                for r in rows
                if r["engine"] == engine
                and r["metric"].endswith(suffix)
                and (suffix or not r["metric"].endswith((".memory", ".memory-runtime")))
            ]
            if not mine:
                continue
            scale = 1 / 2**20 if suffix else 1.0
            x = [r["containers"] for r in mine]
            ax.errorbar(
                x,
                [r["median"] * scale for r in mine],
                yerr=[
                    [(r["median"] - r["ci_low"]) * scale for r in mine],
                    [(r["ci_high"] - r["median"]) * scale for r in mine],
                ],
                capsize=3,
                label=engine,
                **style(i),
            )
        ax.set_xlabel("containers up at once")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(
        handles.values(), handles.keys(), title="engine", loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=7
    )
    fig.tight_layout()
    return _svg(fig)


def history_figure(rows: list[dict]):
    """The history figure (None when no series has two runs): one panel per unit, each run a
    tick labelled with its id, one series per metric and engine, the legend beside the panels."""
    series: dict[str, list[dict]] = {}
    for r in rows:
        series.setdefault(f"{r['scenario']}/{r['metric']} [{r['engine']}]", []).append(r)
    series = {k: v for k, v in sorted(series.items()) if len(v) > 1}
    if not series:
        return None
    run_ids = [r["run_id"] for r in sorted(rows, key=lambda r: r["started"])]
    run_ids = list(dict.fromkeys(run_ids))
    units = list(dict.fromkeys(points[0]["unit"] for points in series.values()))
    fig, axes = plt.subplots(len(units), 1, figsize=(7, 2.6 * len(units)), squeeze=False, sharex=True)
    for ax, unit in zip(axes[:, 0], units):
        mine = {k: v for k, v in series.items() if v[0]["unit"] == unit}
        factor, shown = _scale(unit, [p["median"] for v in mine.values() for p in v])
        values = []
        for label, points in mine.items():
            i = list(series).index(label)
            y = [p["median"] * factor for p in points]
            values += y
            ax.plot([run_ids.index(p["run_id"]) for p in points], y, label=label, **style(i))
        if min(values) > 0 and max(values) / min(values) > 30:
            ax.set_yscale("log")  # medians orders of magnitude apart: each stays readable
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel(f"median ({shown})" if shown else "median")
        ax.grid(alpha=0.3)
        _legend_outside(ax)
    bottom = axes[-1, 0]
    bottom.set_xticks(range(len(run_ids)), run_ids, rotation=20, ha="right", fontsize=7)
    bottom.set_xlim(-0.3, len(run_ids) - 0.7)
    bottom.set_xlabel("run (oldest first)")
    return fig


def history(rows: list[dict]) -> str:
    """Median per run over time, one line per metric and engine (needs two runs or more)."""
    fig = history_figure(rows)
    return _svg(fig) if fig is not None else ""
