"""The argument parser of `seatrial`: every subcommand, its options and their help, in one
argparse tree (harness/cli.py holds the functions the subcommands call, and main).

Over 300 lines because it is the CLI's reference, read top to bottom: one block per subcommand,
with the help text a user sees; it holds no logic beyond the argparse types below.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version

from seatrial.engines.remote import REMOTE_DEFAULT, with_host


def version() -> str:
    """The installed distribution's version (the checkout's pyproject when not installed)."""
    try:
        return dist_version("seatrial")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _duration(text: str) -> float:
    """`90`, `90s`, `10m` or `1h` as seconds (an argparse type: a bad value is a usage error)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give seconds or e.g. 10m, 1h") from None


def _workers(text: str) -> str:
    """`auto` or a count of worker processes (an argparse type: anything else is a usage error)."""
    if text == "auto" or text.isdigit():
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: give a number of workers or auto")


def _add_verbosity(parser: argparse.ArgumentParser, default) -> None:
    """-q/-v, taken before or after the subcommand (after it, the defaults do not overwrite)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default if default is not None else False,
        help="print only results and problems",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default if default is not None else 0,
        help="print more: -v every item of a run with its time, -vv every check",
    )


def _subcommand(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, **kwargs)
    _add_verbosity(parser, argparse.SUPPRESS)
    return parser


def build_parser(commands: Mapping[str, Callable[..., int]]) -> argparse.ArgumentParser:
    """The argparse tree of `seatrial`; `commands` maps each subcommand to the function it calls."""
    parser = argparse.ArgumentParser(
        prog="seatrial",
        description="Sea trials for container engines: run YAML scenarios against Docker, Podman and "
        "the bundled reference runtime, and report what held where.",
        epilog="exit codes: 0 all held, 1 some scenario failed, 2 bad input or usage, "
        "3 an engine is unavailable, degraded or went away during the run, 4 a benchmark regression, "
        "5 the results folder cannot be written (disk full), 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"seatrial {version()}")
    _add_verbosity(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _subcommand(
        sub,
        "run",
        help="run scenarios on engines; print a scenario x engine matrix",
        description="Run scenarios (files or folders; default: the scenario library) "
        "on every engine found, or those named with --engine. Writes "
        "results/<run-id>/events.jsonl.",
    )
    run.add_argument("paths", nargs="*", help="scenario files or folders")
    run.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="NAME",
        help="engine to run on (repeatable); see `seatrial engines`. NAME@WHERE is one on another "
        "machine: docker@ssh://USER@HOST[:PORT] (as DOCKER_HOST), docker@CONTEXT (docker --context), "
        "podman@ssh://USER@HOST[:PORT]/run/podman/podman.sock (podman --remote; the API service must run "
        "there), podman@CONNECTION (podman --connection); results are labelled ENGINE@HOST, and what needs "
        "the engine on this machine (bind mounts, probes from here, host facts) is skipped with the reason",
    )
    _host_option(run)
    run.add_argument("-k", metavar="EXPR", help="only items whose name matches (pytest -k)")
    run.add_argument("-m", metavar="EXPR", help="only items with these markers, e.g. C09 (pytest -m)")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    run.add_argument("--junitxml", metavar="PATH", help="also write JUnit XML")
    run.add_argument(
        "--bench",
        action="store_true",
        help="run benchmark scenarios (default path: benchmarks/), engines interleaved round by round",
    )
    run.add_argument(
        "--bench-full",
        action="store_true",
        help="--bench plus the long benchmarks (density of 50, 100, 200 and 1,000 containers)",
    )
    run.add_argument("--image", metavar="TAG", help="the image container-structure-test and goss files test")
    run.add_argument("--dockerfile", metavar="PATH", help="build the image CST and goss files test, on each engine")
    run.add_argument("--context", metavar="DIR", help="build context of --dockerfile (default: its folder)")
    run.add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run part I of N (whole scenarios, every engine of each; for a CI matrix: the N "
        "parts are disjoint and cover the library; `seatrial report` merges them)",
    )
    run.add_argument("--run-id", metavar="ID", help="name of the results folder (default: time and session)")
    run.add_argument(
        "-n",
        "--numprocesses",
        type=_workers,
        metavar="N",
        help="run items side by side in N worker processes (pytest-xdist; `auto`: one per CPU); "
        "one events file, the same matrix and summary as a serial run; not with --bench",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="for CI: every engine seatrial knows must be usable here; one that is unavailable "
        "or degraded makes the run exit 3 (a default run uses what it finds and lists "
        "the rest)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print the run's summary as JSON on stdout (items, outcomes, durations; "
        "benchmark medians with --bench); progress goes to stderr",
    )
    run.set_defaults(func=commands["run"])

    validate = _subcommand(
        sub,
        "validate",
        help="check scenario files; touches no engine",
        description="Report every problem in every scenario file as file:line:col: key.path: message. Exit 2 if any.",
    )
    validate.add_argument("paths", nargs="*", help="files or folders (default: the scenario library)")
    validate.set_defaults(func=commands["validate"])

    importer = _subcommand(
        sub,
        "import",
        help="write the seatrial scenario of a container-structure-test or goss file",
        description="Translate a CST config or a goss file into one seatrial scenario (YAML), to grow from there.",
    )
    importer.add_argument("format", choices=["cst", "goss"])
    importer.add_argument("file", help="the CST config or goss file")
    importer.add_argument("-o", "--output", metavar="PATH", help="write here (default: print)")
    importer.add_argument("--image", metavar="TAG", help="the image the file tests")
    importer.add_argument("--dockerfile", metavar="PATH", help="build the image from this Dockerfile")
    importer.add_argument("--context", metavar="DIR", help="build context of --dockerfile")
    importer.set_defaults(func=commands["import"])

    schema = _subcommand(sub, "schema", help="print or write the scenario JSON Schema (draft-07)")
    schema.add_argument("-o", "--output", metavar="PATH", help="write here (e.g. scenarios/schema.json)")
    schema.set_defaults(func=commands["schema"])

    engines = _subcommand(sub, "engines", help="list engines: versions, runtime, storage, cgroups, what they lack")
    engines.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="NAME",
        help="only this engine (repeatable; NAME@WHERE: see run)",
    )
    _host_option(engines)
    engines.add_argument("--json", action="store_true", help="print JSON: one object per engine")
    engines.add_argument(
        "--quick",
        action="store_true",
        help="skip the functional check (start containers, build, network, volume) "
        "that says available, degraded or unavailable; only ask each engine",
    )
    engines.set_defaults(func=commands["engines"])

    report = _subcommand(
        sub,
        "report",
        help="render results: HTML, Markdown, JUnit per engine, JSON summary",
        description="Render one or many runs (events.jsonl files or folders holding "
        "them; several runs and machines merge) into DIR.",
    )
    report.add_argument("results", nargs="+", metavar="RESULTS", help="events.jsonl files or folders (e.g. results/)")
    report.add_argument("-o", "--output", metavar="DIR", help="default: results/report")
    report.add_argument("--baseline", metavar="ENGINE", help="engine that ratios are relative to (default: the first)")
    report.add_argument(
        "--github-summary",
        action="store_true",
        help="append the Markdown summary to $GITHUB_STEP_SUMMARY (done anyway when it is set; "
        "with this flag a missing variable is an error)",
    )
    report.set_defaults(func=commands["report"])

    compare = _subcommand(sub, "compare", help="compare two runs' benchmark medians; exit 4 past the gate")
    compare.add_argument("old", help="events.jsonl or results folder of the earlier run")
    compare.add_argument("new", help="events.jsonl or results folder of the later run")
    compare.add_argument(
        "--fail-over",
        default="10%",
        metavar="PCT",
        help="a median slower by more than this (and beyond its interval) is a regression (default 10%%)",
    )
    compare.add_argument("--json", action="store_true", help="print JSON: one object per metric and engine")
    compare.set_defaults(func=commands["compare"])
    claims = _subcommand(
        sub,
        "claims",
        help="the claims table: per claim and engine, held, failed, diverged...",
        description="Read events.jsonl files, run folders or results folders (their "
        "newest run; default: ./results) and print, per claim of docs/claims.md "
        "and per engine, whether it held. Several runs merge.",
    )
    claims.add_argument("paths", nargs="*", help="events.jsonl files, run folders or results folders")
    claims.add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    claims.add_argument("--markdown", action="store_true", help="print GitHub Markdown instead")
    claims.add_argument("--json", action="store_true", help="print JSON: per claim, per engine, status and reason")
    claims.set_defaults(func=commands["claims"])

    diff = _subcommand(
        sub,
        "diff",
        help="differential testing: build and probe corpus cases on several "
        "engines and compare image config, file tree and probe output",
        description="Build each case (Dockerfile, context, probe) of a differential corpus "
        "(default: tests/corpus) on every --engine, compare each engine with the "
        "first (with --recorded: Docker's recorded results), print divergences "
        "side by side and the agreement table; writes RESULTS/<id>/diff.json for "
        "`seatrial report`. Exit 1 on a divergence no case documents.",
    )
    diff.add_argument("paths", nargs="*", help="corpus files or folders (default: tests/corpus)")
    diff.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="NAME",
        help="engine to run the cases on (repeatable); the first is the baseline",
    )
    diff.add_argument(
        "--recorded",
        action="store_true",
        help="compare with the recorded results of real Docker (tests/corpus/recorded/); "
        "they come first, so docker@recorded is the baseline",
    )
    diff.add_argument(
        "--record",
        action="store_true",
        help="write the live engines' observations into the recordings (re-record the corpus)",
    )
    diff.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    diff.add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    diff.add_argument("--json", action="store_true", help="print the table and every verdict as JSON")
    diff.add_argument("--markdown", action="store_true", help="print the agreement table as Markdown")
    diff.set_defaults(func=commands["diff"])

    fuzz = _subcommand(
        sub,
        "fuzz",
        help="generate Dockerfiles and contexts, run them on two engines, write each divergence as a new corpus case",
        description="Property-based generation (hypothesis) of Dockerfiles, contexts and "
        ".dockerignore files, built and probed on two engines side by side until "
        "the budget is spent; a divergence is shrunk and appended to --out. The "
        "same --seed draws the same cases. Exit 1 when a divergence was found.",
    )
    fuzz.add_argument(
        "--engines",
        action="append",
        default=[],
        metavar="A,B",
        required=True,
        help="the two engines, e.g. docker,reference (the first is the baseline)",
    )
    fuzz.add_argument(
        "--budget",
        type=_duration,
        default=600.0,
        metavar="TIME",
        help="how long to generate: seconds, or 10m, 1h (default 10m)",
    )
    fuzz.add_argument("--seed", type=int, metavar="N", help="random seed (printed at the end; default: random)")
    fuzz.add_argument(
        "--out",
        default="tests/corpus/fuzz-found.yaml",
        metavar="FILE",
        help="corpus file the shrunk case is appended to (default: tests/corpus/fuzz-found.yaml)",
    )
    fuzz.set_defaults(func=commands["fuzz"])

    clean = _subcommand(
        sub,
        "clean",
        help="remove what dead seatrial sessions left in every engine",
        description="Remove the resources of dead sessions (their lock is free) in every "
        "available engine; with --caches, also the build caches that seatrial's "
        "builds made (the base image seatrial/base:* is kept).",
    )
    clean.add_argument(
        "--caches",
        action="store_true",
        help="also remove build caches: dangling seatrial-labelled images, BuildKit cache, "
        "the reference runtime's build cache",
    )
    clean.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="NAME",
        help="only this engine (repeatable; default: every available one; NAME@WHERE: see run)",
    )
    _host_option(clean)
    clean.set_defaults(func=commands["clean"])

    completion = _subcommand(
        sub,
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script generated from this command's own "
        'options. bash: eval "$(seatrial completion bash)" in ~/.bashrc; '
        "zsh: the same in ~/.zshrc.",
    )
    completion.add_argument("shell", choices=["bash", "zsh"])
    completion.set_defaults(func=commands["completion"])
    vm = _subcommand(
        sub,
        "vm",
        help="run the scenario library inside Debian VMs (Vagrant, libvirt)",
        description="Boot a Debian VM from a locally built box, provision it with "
        "vagrant/provision.sh and run seatrial inside on every engine; results "
        "come back under results/ with the VM as its own host (engine@host).",
    )
    vm_sub = vm.add_subparsers(dest="action", required=True, metavar="ACTION")
    vm_sub.add_parser("setup", help="install vagrant, libvirt, QEMU, debootstrap (Debian) and start libvirtd")
    vm_parsers = {
        "build-box": vm_sub.add_parser("build-box", help="build the box locally (debootstrap; about 2.5 min)"),
        "up": vm_sub.add_parser("up", help="boot the VM (building its box if missing) and provision it"),
        "run": vm_sub.add_parser(
            "run",
            help="up, then seatrial run inside; results copied back",
            description="Arguments after -- go to `seatrial run` inside the VM, "
            "e.g. seatrial vm run -- -k 'build or network'",
        ),
        "down": vm_sub.add_parser("down", help="destroy the VMs; remove their disks and network from libvirt"),
    }
    for action in vm_parsers.values():
        action.add_argument(
            "--machine",
            action="append",
            choices=["debian12", "debian13"],
            metavar="NAME",
            help="debian12 (default; down: every machine) or debian13; repeatable, one VM at a time",
        )
    for name in ("up", "run"):
        vm_parsers[name].add_argument(
            "--fresh",
            action="store_true",
            help="provision from nothing on the pristine box even if a provisioned box is current",
        )
    vm_parsers["run"].add_argument("run_args", nargs="*", metavar="RUN_ARGS", help="arguments of seatrial run")
    vm_parsers["run"].add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    vm_parsers["run"].add_argument("--down", action="store_true", help="destroy the VM after the run")
    vm_parsers["run"].add_argument(
        "--lane",
        action="append",
        default=[],
        metavar="ENGINE,...",
        help="run these engines in a seatrial run of their own, at once with the "
        "other lanes (repeatable; e.g. --lane docker,docker-buildkit "
        "--lane podman,podman-rootless,reference); one results folder per lane",
    )
    vm_parsers["down"].add_argument("--box", action="store_true", help="also remove the cached boxes")
    vm.set_defaults(func=commands["vm"])

    ref = sub.add_parser(
        "ref", help="debug the bundled reference runtime: build, run, exec, ps, images, rm, rmi, logs", add_help=False
    )
    ref.add_argument("ref_args", nargs=argparse.REMAINDER)
    ref.set_defaults(func=commands["ref"])
    return parser


def _host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        metavar="URL",
        help="drive the engines on the machine at URL (ssh://USER@HOST[:PORT], tcp://HOST:PORT, or a Docker context / "
        "Podman connection name): each --engine without @ becomes ENGINE@URL; with no --engine: "
        + ", ".join(REMOTE_DEFAULT),
    )


def check_engine_names(args, parser: argparse.ArgumentParser) -> None:
    """An unknown --engine is a usage error of the subcommand that took it (exit 2, its usage),
    decided before anything runs, on every subcommand alike. --host is applied first."""
    if getattr(args, "host", None):
        args.engine = with_host(args.engine, args.host)
    names = getattr(args, "engine", None)
    if not names:
        return
    from seatrial.engines.discovery import unknown_engines_message

    message = unknown_engines_message(names)
    if message:
        parser.error(message)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)
