"""The command-line options of seatrial's pytest plugin, in the group "seatrial": which engines,
where results go, which scenarios, the image CST and goss files test, benchmarks. Read back by
harness/plugin.py and the modules it calls through `config.getoption("seatrial_...")`."""

from __future__ import annotations


def add_options(parser) -> None:
    """The options the plugin adds to pytest (and `seatrial run` passes through)."""
    group = parser.getgroup("seatrial", "seatrial: container engine scenarios")
    group.addoption(
        "--engine",
        action="append",
        default=[],
        dest="seatrial_engines",
        metavar="NAME",
        help="run scenarios on this engine (repeatable); default: every engine available here",
    )
    group.addoption(
        "--results-dir",
        default="results",
        dest="seatrial_results",
        help="where results/<run-id>/events.jsonl goes (default: ./results)",
    )
    group.addoption("--run-id", default=None, dest="seatrial_run_id", help="name of this run's results folder")
    group.addoption(
        "--scenario-root",
        action="append",
        default=[],
        dest="seatrial_roots",
        metavar="DIR",
        help="also collect YAML scenarios under DIR (by default only under folders named "
        "'scenarios', and files named on the command line)",
    )
    group.addoption(
        "--strict-engines",
        action="store_true",
        dest="seatrial_strict",
        help="every engine seatrial knows must be usable here (for CI): an unavailable or "
        "degraded one makes the run exit 3",
    )
    group.addoption(
        "--image",
        default=None,
        dest="seatrial_image",
        metavar="TAG",
        help="the image that container-structure-test and goss files test (present in every engine)",
    )
    group.addoption(
        "--dockerfile",
        default=None,
        dest="seatrial_dockerfile",
        metavar="PATH",
        help="build the image that CST and goss files test from this Dockerfile on each engine",
    )
    group.addoption(
        "--context",
        default=None,
        dest="seatrial_context",
        metavar="DIR",
        help="the build context of --dockerfile (default: its folder)",
    )
    group.addoption(
        "--bench",
        action="store_true",
        dest="seatrial_bench",
        help="run benchmark scenarios (skipped otherwise): each one item on all engines, rounds interleaved",
    )
    group.addoption(
        "--bench-full",
        action="store_true",
        dest="seatrial_bench_full",
        help="with --bench, also the long benchmarks (density of 50, 100, 200 and 1,000 containers)",
    )
