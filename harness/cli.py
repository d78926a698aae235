"""The `seatrial` command. It parses arguments and calls the library; nothing else lives here."""
from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path
from typing import TextIO

PACKAGE = Path(__file__).resolve().parent


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    ENGINE_UNAVAILABLE = 3
    REGRESSION = 4
    INTERRUPTED = 130


def default_scenarios(folder: str = "scenarios") -> list[str]:
    """The library to run when no path is given: ./scenarios (or ./benchmarks) if the current
    folder has one, else the one shipped inside the installed package (seatrial/scenarios), else
    the checkout's own (an editable install, run from elsewhere)."""
    for candidate in (Path(folder), PACKAGE / folder, PACKAGE.parent / folder):
        if candidate.is_dir():
            return [str(candidate)]
    return [folder]


def cmd_run(args, out: TextIO) -> int:
    """Run scenarios through the pytest plugin with seatrial's own progress and matrix."""
    import pytest

    from seatrial.console import ConsoleReporter
    reporter = ConsoleReporter()
    bench = args.bench or args.bench_full
    paths = args.paths or default_scenarios("benchmarks" if bench else "scenarios")
    argv = [*paths, "-p", "no:terminal", "-p", "no:cacheprovider", "--results-dir", args.results_dir]
    argv += [a for path in paths for a in ("--scenario-root", path)]
    for engine in args.engine:
        argv += ["--engine", engine]
    if args.k:
        argv += ["-k", args.k]
    if args.m:
        argv += ["-m", args.m]
    if bench:
        argv += ["--bench"] + (["--bench-full"] if args.bench_full else [])
    if args.exitfirst:
        argv.append("-x")
    if args.junitxml:
        argv += ["--junitxml", args.junitxml]
    if args.run_id:
        argv += ["--run-id", args.run_id]
    code = pytest.main(argv, plugins=[reporter])
    # pytest.main returns after sessionfinish; the plugin instance holds the results.
    from seatrial import plugin as plugin_module
    state = plugin_module.LAST_RUN.state if plugin_module.LAST_RUN else None
    if plugin_module.LAST_RUN and plugin_module.LAST_RUN.engine_error:
        print(plugin_module.LAST_RUN.engine_error, file=sys.stderr)
        return Exit.ENGINE_UNAVAILABLE
    if state is not None:
        reporter.print_matrix(state.results, state.events.path if state.events else None)
        if state.leaks:
            print("the run left resources behind (listed above): failing the run", file=sys.stderr)
    if reporter.interrupted:
        return Exit.INTERRUPTED
    if reporter.collect_errors or code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            print("no scenario matched", file=sys.stderr)
        return Exit.BAD_INPUT
    return Exit.OK if code == pytest.ExitCode.OK else Exit.FAILED


def cmd_validate(args, out: TextIO) -> int:
    from seatrial.loader import validate_command
    return validate_command(args.paths or default_scenarios(), out)


def cmd_schema(args, out: TextIO) -> int:
    from seatrial.schema import schema_command
    return schema_command(args.output, out)


def cmd_engines(args, out: TextIO) -> int:
    from seatrial.engines.listing import print_engines
    return print_engines(args.engine or None, out)


def cmd_clean(args, out: TextIO) -> int:
    from seatrial.engines.registry import load_engines
    from seatrial.reaper import reap_dead_sessions
    engines = [e for e in load_engines(None) if e.info().is_available]
    removed = reap_dead_sessions(engines, log=lambda msg: print(msg, file=out))
    print(f"clean: removed {len(removed)} resources of dead sessions", file=out)
    return Exit.OK


def cmd_report(args, out: TextIO) -> int:
    from seatrial.reports.render import report_command
    return report_command(args.results, args.output, args.baseline, out)


def cmd_compare(args, out: TextIO) -> int:
    from seatrial.reports.compare import compare_command
    return compare_command(args.old, args.new, args.fail_over, out)
def cmd_claims(args, out: TextIO) -> int:
    from seatrial.reports.claims import claims_table, events_paths, print_table, read_records, to_markdown
    paths = events_paths([Path(p) for p in args.paths] or [Path(args.results_dir)])
    if not paths:
        where = ", ".join(args.paths) or args.results_dir
        print(f"claims: no events.jsonl in {where}; run `seatrial run` first or name a results folder",
              file=sys.stderr)
        return Exit.BAD_INPUT
    table = claims_table(read_records(paths))
    if args.markdown:
        out.write(to_markdown(table))
    else:
        print_table(table, out)
    return Exit.OK


def cmd_vm(args, out: TextIO) -> int:
    from seatrial.vm import vm_command
    return vm_command(args, out, Path.cwd(), PACKAGE)


def cmd_ref(args, out: TextIO) -> int:
    from seatrial.engines.reference.cli import main as ref_main
    return ref_main(args.ref_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seatrial",
        description="Sea trials for container engines: run YAML scenarios against Docker, Podman and "
                    "the bundled reference runtime, and report what held where.",
        epilog="exit codes: 0 all held, 1 some scenario failed, 2 bad input or usage, "
               "3 an engine is unavailable, 4 a benchmark regression, 130 interrupted")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run scenarios on engines; print a scenario x engine matrix",
                         description="Run scenarios (files or folders; default: the scenario library) "
                                     "on every engine found, or those named with --engine. Writes "
                                     "results/<run-id>/events.jsonl.")
    run.add_argument("paths", nargs="*", help="scenario files or folders")
    run.add_argument("--engine", action="append", default=[], metavar="NAME",
                     help="engine to run on (repeatable); see `seatrial engines`")
    run.add_argument("-k", metavar="EXPR", help="only items whose name matches (pytest -k)")
    run.add_argument("-m", metavar="EXPR", help="only items with these markers, e.g. C09 (pytest -m)")
    run.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    run.add_argument("--junitxml", metavar="PATH", help="also write JUnit XML")
    run.add_argument("--bench", action="store_true",
                     help="run benchmark scenarios (default path: benchmarks/), engines interleaved round by round")
    run.add_argument("--bench-full", action="store_true",
                     help="--bench plus the long benchmarks (density of 50, 100, 200 containers)")
    run.add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    run.add_argument("--run-id", metavar="ID", help="name of the results folder (default: time and session)")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check scenario files; touches no engine",
                              description="Report every problem in every scenario file as "
                                          "file:line:col: key.path: message. Exit 2 if any.")
    validate.add_argument("paths", nargs="*", help="files or folders (default: the scenario library)")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print or write the scenario JSON Schema (draft-07)")
    schema.add_argument("-o", "--output", metavar="PATH", help="write here (e.g. scenarios/schema.json)")
    schema.set_defaults(func=cmd_schema)

    engines = sub.add_parser("engines", help="list engines: versions, runtime, storage, cgroups, what they lack")
    engines.add_argument("--engine", action="append", default=[], metavar="NAME")
    engines.set_defaults(func=cmd_engines)

    report = sub.add_parser("report", help="render results: HTML, Markdown, JUnit per engine, JSON summary",
                            description="Render one or many runs (events.jsonl files or folders holding "
                                        "them; several runs and machines merge) into DIR.")
    report.add_argument("results", nargs="+", metavar="RESULTS", help="events.jsonl files or folders (e.g. results/)")
    report.add_argument("-o", "--output", metavar="DIR", help="default: results/report")
    report.add_argument("--baseline", metavar="ENGINE", help="engine that ratios are relative to (default: the first)")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="compare two runs' benchmark medians; exit 4 past the gate")
    compare.add_argument("old", help="events.jsonl or results folder of the earlier run")
    compare.add_argument("new", help="events.jsonl or results folder of the later run")
    compare.add_argument("--fail-over", default="10%", metavar="PCT",
                         help="a median slower by more than this (and beyond its interval) is a regression (default 10%%)")
    compare.set_defaults(func=cmd_compare)
    claims = sub.add_parser("claims", help="the claims table: per claim and engine, held, failed, diverged...",
                            description="Read events.jsonl files, run folders or results folders (their "
                                        "newest run; default: ./results) and print, per claim of CLAIMS.md "
                                        "and per engine, whether it held. Several runs merge.")
    claims.add_argument("paths", nargs="*", help="events.jsonl files, run folders or results folders")
    claims.add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    claims.add_argument("--markdown", action="store_true", help="print GitHub Markdown instead")
    claims.set_defaults(func=cmd_claims)

    clean = sub.add_parser("clean", help="remove what dead seatrial sessions left in every engine")
    clean.set_defaults(func=cmd_clean)

    vm = sub.add_parser("vm", help="run the scenario library inside Debian VMs (Vagrant, libvirt)",
                        description="Boot a Debian VM from a locally built box, provision it with "
                                    "vagrant/provision.sh and run seatrial inside on every engine; results "
                                    "come back under results/ with the VM as its own host (engine@host).")
    vm_sub = vm.add_subparsers(dest="action", required=True, metavar="ACTION")
    vm_sub.add_parser("setup", help="install vagrant, libvirt, QEMU, debootstrap (Debian) and start libvirtd")
    vm_parsers = {
        "build-box": vm_sub.add_parser("build-box", help="build the box locally (debootstrap; about 2.5 min)"),
        "up": vm_sub.add_parser("up", help="boot the VM (building its box if missing) and provision it"),
        "run": vm_sub.add_parser("run", help="up, then seatrial run inside; results copied back",
                                 description="Arguments after -- go to `seatrial run` inside the VM, "
                                             "e.g. seatrial vm run -- -k 'build or network'"),
        "down": vm_sub.add_parser("down", help="destroy the VMs; remove their disks and network from libvirt"),
    }
    for name, action in vm_parsers.items():
        action.add_argument("--machine", action="append", choices=["debian12", "debian13"], metavar="NAME",
                            help="debian12 (default; down: every machine) or debian13; repeatable, one VM at a time")
    for name in ("up", "run"):
        vm_parsers[name].add_argument("--fresh", action="store_true",
                                      help="provision from nothing on the pristine box even if a provisioned box is current")
    vm_parsers["run"].add_argument("run_args", nargs="*", metavar="RUN_ARGS", help="arguments of seatrial run")
    vm_parsers["run"].add_argument("--results-dir", default="results", metavar="DIR", help="default: ./results")
    vm_parsers["run"].add_argument("--down", action="store_true", help="destroy the VM after the run")
    vm_parsers["down"].add_argument("--box", action="store_true", help="also remove the cached boxes")
    vm.set_defaults(func=cmd_vm)

    ref = sub.add_parser("ref", help="debug the bundled reference runtime: build, run, exec, ps, images, rm, logs",
                         add_help=False)
    ref.add_argument("ref_args", nargs=argparse.REMAINDER)
    ref.set_defaults(func=cmd_ref)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ref"]:
        # Everything after `ref` belongs to the reference runtime's own parser (--help included).
        from seatrial.engines.reference.cli import main as ref_main
        return ref_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out or sys.stdout))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
