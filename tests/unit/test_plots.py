"""Plots a reader can read: units on the axes, run ids on the history axis, series that differ,
legends beside the data, not over it."""

from __future__ import annotations

import matplotlib.pyplot as plt

from seatrial.reports import plots

RUNS = ["20261128-050957-aaaa", "20261130-101010-bbbb"]


def history_rows(
    metrics=(("start", "s", 0.3), ("exec", "s", 0.07), ("build", "s", 1.2), ("size", "bytes", 9e6)),
    engines=("docker", "podman", "reference"),
) -> list[dict]:
    return [
        {
            "scenario": "bench",
            "metric": m,
            "engine": e,
            "run_id": run,
            "started": float(j),
            "median": v * (1 + 0.1 * j) * (0.05 if e == "reference" else 1),
            "unit": u,
        }
        for m, u, v in metrics
        for e in engines
        for j, run in enumerate(RUNS)
    ]


def test_history_ticks_are_run_ids_and_axes_say_their_unit():
    fig = plots.history_figure(history_rows())
    try:
        axes = fig.axes
        assert [t.get_text() for t in axes[-1].get_xticklabels()] == RUNS
        assert [ax.get_ylabel() for ax in axes] == ["median (s)", "median (MiB)"]
    finally:
        plt.close(fig)


def test_twelve_history_series_all_look_different():
    fig = plots.history_figure(history_rows())
    try:
        lines = [line for ax in fig.axes for line in ax.get_lines()]
        assert len(lines) == 12
        looks = {(line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
        assert len(looks) == 12
    finally:
        plt.close(fig)


def test_history_legends_sit_beside_the_data():
    fig = plots.history_figure(history_rows())
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            legend = ax.get_legend()
            assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    finally:
        plt.close(fig)


def test_history_svg_carries_the_run_ids_and_units():
    svg = plots.history(history_rows())
    assert RUNS[0] in svg and "median (ms)" in plots.history(history_rows(metrics=(("start", "s", 0.3),)))
    assert "median (MiB)" in svg


def test_styles_differ_for_forty_series():
    assert len({tuple(plots.style(i).values()) for i in range(40)}) == 40
