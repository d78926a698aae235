"""The `seatrial` command: the function each subcommand calls, and main. It parses arguments
(the parser is harness/cliparser.py) and calls the library; nothing else lives here.

A little over 300 lines: fourteen subcommands, a short function each (`run`'s, the longest,
turns the plugin's results into progress, the matrix and the exit code)."""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from pathlib import Path
from typing import TextIO

from seatrial.harness import cliparser
from seatrial.harness.cliparser import check_engine_names, subparsers, version

__all__ = ["PACKAGE", "Exit", "build_parser", "main", "verbosity", "version"]

# The folder that holds harness/, engines/ and the library: the checkout (resolve() follows the
# strict editable install's links) or site-packages/seatrial in an installed wheel.
PACKAGE = Path(__file__).resolve().parent.parent


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    ENGINE_UNAVAILABLE = 3
    REGRESSION = 4
    RESULTS_UNWRITABLE = 5  # the results folder could not take the run's events (disk full, ...)
    INTERRUPTED = 130


def verbosity(args) -> int:
    """-1 with -q, 0 by default, 1 or more with -v (-vv)."""
    return -1 if getattr(args, "quiet", False) else getattr(args, "verbose", 0)


def default_scenarios(folder: str = "scenarios") -> list[str]:
    """The library to run when no path is given: ./scenarios (or ./benchmarks) if the current
    folder has one, else the one shipped inside the installed package (seatrial/scenarios), or
    the checkout's own (an editable install, run from elsewhere)."""
    for candidate in (Path(folder), PACKAGE / folder):
        if candidate.is_dir():
            return [str(candidate)]
    return [folder]


def cmd_run(args, out: TextIO) -> int:
    """Run scenarios through the pytest plugin with seatrial's own progress and matrix."""
    import pytest
    from rich.console import Console

    from seatrial.harness.console import ConsoleReporter

    # With --json, stdout carries the JSON summary alone; progress and the matrix go to stderr.
    console = Console(file=sys.stderr if args.json else out, highlight=False, soft_wrap=True)
    reporter = ConsoleReporter(console, verbosity=verbosity(args))
    bench = args.bench or args.bench_full
    if bench and args.numprocesses not in (None, "0"):
        from seatrial.harness.parallel import BENCH_REFUSED

        print(f"seatrial run: {BENCH_REFUSED}", file=sys.stderr)
        return Exit.BAD_INPUT
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
    if args.run_id:
        argv += ["--run-id", args.run_id]
    for option in ("image", "dockerfile", "context"):
        if getattr(args, option):
            argv += [f"--{option}", getattr(args, option)]
    if args.strict:
        argv.append("--strict-engines")
    if args.shard:
        argv += ["--shard", args.shard]
    if args.numprocesses is not None:
        # pytest-benchmark warns in every process that xdist disables it; -n refuses --bench anyway.
        argv += ["-n", args.numprocesses, "-p", "no:benchmark"]
    from seatrial.harness.plugin import SeatrialPlugin

    run = SeatrialPlugin()  # pytest.main returns after sessionfinish; this object holds the results
    # With --json, whatever the run itself prints (reaping, leaks) goes to stderr too.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        code = pytest.main(argv, plugins=[reporter, run])
    state = run.state
    if run.engine_error:
        print(run.engine_error, file=sys.stderr)
        return Exit.ENGINE_UNAVAILABLE
    events_path = state.events.path if state is not None and state.events else None
    if state is not None:
        reporter.print_matrix(state.results, events_path)
        if state.leaks:
            print("the run left resources behind (listed above): failing the run", file=sys.stderr)
        for reason in state.health.gone.values():
            print(f"{reason}; its remaining items are errors", file=sys.stderr)
        for name, summary in state.health.degraded().items():
            print(f"engine '{name}' is {summary}; the items that need it are errors", file=sys.stderr)
    for name, reason in run.not_run:
        reason = reason.removeprefix(f"engine {name!r}: ").removeprefix(f"engine '{name}': ")
        print(f"not run on {name}: {reason}", file=sys.stderr)
    if events_path is not None and (bench or args.junitxml or args.json):
        from seatrial.reports.runsummary import after_run

        after_run(
            Path(events_path),
            junitxml=args.junitxml,
            show_benchmarks=bench and not args.json,
            as_json=args.json,
            console=console,
            out=out,
        )
    if run.usage_error:
        print(run.usage_error, file=sys.stderr)
        return Exit.BAD_INPUT
    if run.results_error:
        print(run.results_error, file=sys.stderr)
        return Exit.RESULTS_UNWRITABLE
    if reporter.interrupted:
        print("interrupted: the run stopped early; what ran is in the events file", file=sys.stderr)
        return Exit.INTERRUPTED
    if state is not None and (state.health.gone or state.health.degraded()):
        return Exit.ENGINE_UNAVAILABLE
    if reporter.collect_errors or code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            print("no scenario matched", file=sys.stderr)
        return Exit.BAD_INPUT
    return Exit.OK if code == pytest.ExitCode.OK else Exit.FAILED


def cmd_validate(args, out: TextIO) -> int:
    from seatrial.harness.loader import validate_command

    return validate_command(args.paths or default_scenarios(), out)


def cmd_import(args, out: TextIO) -> int:
    from seatrial.harness.formats.imagesource import ImageSource
    from seatrial.harness.formats.importer import import_command

    options = ImageSource(
        image=args.image,
        dockerfile=args.dockerfile and Path(args.dockerfile),
        context=args.context and Path(args.context),
    )
    return import_command(args.format, args.file, options, args.output, out)


def cmd_schema(args, out: TextIO) -> int:
    from seatrial.harness.schema import schema_command

    return schema_command(args.output, out)


def cmd_engines(args, out: TextIO) -> int:
    from seatrial.engines.listing import print_engines

    return print_engines(args.engine or None, out, check=not args.quick, as_json=args.json)


def cmd_clean(args, out: TextIO) -> int:
    from seatrial.engines.discovery import load_engines
    from seatrial.harness.reaper import reap_dead_sessions
    from seatrial.harness.words import plural

    quiet = verbosity(args) < 0
    engines = [e for e in load_engines(args.engine or None, with_floors=True) if e.info().is_available]
    removed = reap_dead_sessions(engines, log=(lambda msg: None) if quiet else (lambda msg: print(msg, file=out)))
    print(f"clean: removed {plural(len(removed), 'resource')} of dead sessions", file=out)
    if args.caches:
        for engine in engines:
            pruned = engine.prune_caches()
            print(f"clean: {engine.name}: {pruned.summary()}", file=out)
            if not quiet:
                for line in pruned.details:
                    print(f"  {line}", file=out)
    return Exit.OK


def cmd_report(args, out: TextIO) -> int:
    from seatrial.reports.render import report_command

    summary = os.environ.get("GITHUB_STEP_SUMMARY") or None
    if args.github_summary and not summary:
        print(
            "report: --github-summary needs $GITHUB_STEP_SUMMARY, which GitHub Actions sets in a workflow "
            "step; outside Actions, read the report's summary.md",
            file=sys.stderr,
        )
        return Exit.BAD_INPUT
    return report_command(
        args.results, args.output, args.baseline, out, quiet=verbosity(args) < 0, github_summary=summary
    )


def cmd_completion(args, out: TextIO) -> int:
    from seatrial.harness.completion import completion_script

    out.write(completion_script(args.shell, build_parser()))
    return Exit.OK


def cmd_compare(args, out: TextIO) -> int:
    from seatrial.reports.compare import compare_command

    return compare_command(args.old, args.new, args.fail_over, out, as_json=args.json)


def cmd_claims(args, out: TextIO) -> int:
    from seatrial.reports.claimstable import claims_table, print_table, to_markdown
    from seatrial.reports.eventfiles import Runs, event_files, read_records

    try:  # per folder its newest run: the table says what holds now
        paths = event_files([Path(p) for p in args.paths] or [Path(args.results_dir)], Runs.NEWEST)
    except FileNotFoundError:
        paths = []
    if not paths:
        where = ", ".join(args.paths) or args.results_dir
        print(f"claims: no events.jsonl in {where}; run `seatrial run` first or name a results folder", file=sys.stderr)
        return Exit.BAD_INPUT
    table = claims_table(read_records(paths))
    if args.json:
        from seatrial.reports.claimstable import to_json

        out.write(to_json(table))
    elif args.markdown:
        out.write(to_markdown(table))
    else:
        print_table(table, out)
    return Exit.OK


def cmd_diff(args, out: TextIO) -> int:
    from seatrial.harness.differential.diffcommand import DiffOptions, diff_command

    paths = [Path(p) for p in args.paths] or [Path(p) for p in default_scenarios("tests/corpus")]
    return diff_command(
        DiffOptions(
            paths, args.engine, args.recorded, args.record, args.k, Path(args.results_dir), args.json, args.markdown
        ),
        out,
    )


def cmd_fuzz(args, out: TextIO) -> int:
    import secrets

    from seatrial.harness.differential.fuzz import fuzz

    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    engines = [e for names in args.engines for e in names.split(",") if e]
    if len(set(engines)) != 2:
        print("fuzz: give two different engines, e.g. --engines docker,reference", file=sys.stderr)
        return Exit.BAD_INPUT
    return fuzz(engines, args.budget, seed, Path(args.out), out)


def cmd_vm(args, out: TextIO) -> int:
    from seatrial.harness.vm import vm_command

    return vm_command(args, out, Path.cwd(), PACKAGE)


def cmd_ref(args, out: TextIO) -> int:
    from seatrial.engines.reference.debugcli import main as ref_main

    return ref_main(args.ref_args)


def build_parser():
    """The parser of every subcommand, each bound to its function here (looked up at each call,
    so that a test may replace one)."""
    commands = {
        "claims": cmd_claims,
        "clean": cmd_clean,
        "compare": cmd_compare,
        "completion": cmd_completion,
        "diff": cmd_diff,
        "engines": cmd_engines,
        "fuzz": cmd_fuzz,
        "import": cmd_import,
        "ref": cmd_ref,
        "report": cmd_report,
        "run": cmd_run,
        "schema": cmd_schema,
        "validate": cmd_validate,
        "vm": cmd_vm,
    }
    return cliparser.build_parser(commands)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["ref"]:
            # Everything after `ref` belongs to the reference runtime's own parser (--help included).
            from seatrial.engines.reference.debugcli import main as ref_main

            return ref_main(argv[1:])
        parser = build_parser()
        try:
            args, extra = parser.parse_known_args(argv)
            own = subparsers(parser).get(args.command, parser)
            if extra:  # said by the subcommand, with its own usage, not the top level's
                own.error(f"unrecognized arguments: {' '.join(extra)}")
            check_engine_names(args, own)
            missing = (
                [p for p in getattr(args, "paths", None) or [] if not Path(p).exists()] if args.command == "run" else []
            )
            if missing:
                own.error(f"{', '.join(missing)}: no such file or folder; give scenario files or folders")
        except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
            return int(exc.code or 0)
        try:
            return int(args.func(args, out or sys.stdout))
        except OSError as exc:
            if args.command in ("run", "ref") or not exc.filename:
                raise  # an engine or the harness broke: not the user's input
            # A file the user named cannot be read or written (a folder that does not exist, ...).
            print(f"seatrial {args.command}: {exc.filename}: {exc.strerror}", file=sys.stderr)
            return Exit.BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Exit.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
