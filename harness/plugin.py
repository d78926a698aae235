"""The pytest plugin: YAML scenarios collected as items, one per scenario x engine.

`pytest scenarios/` and `seatrial run` both come through here, so `-k`, `-m`, `-x` and
`--junitxml` work as pytest users expect, and there is one runner, not two. `seatrial run`
hands its own SeatrialPlugin to pytest.main and reads the results from it afterwards; a plain
`pytest` run gets one made here. The items themselves are seatrial.harness.items.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from seatrial.harness.items import BenchmarkItem, ScenarioItem
from seatrial.harness.pluginoptions import add_options

ENGINE_UNAVAILABLE_EXIT = 3
RESULTS_UNWRITABLE_EXIT = 5
RUN = pytest.StashKey["SeatrialPlugin"]()  # the run of this pytest session: config.stash[RUN]


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    """Take the run `seatrial run` handed to pytest.main, or make one for a plain `pytest`."""
    handed = [p for p in config.pluginmanager.get_plugins() if isinstance(p, SeatrialPlugin)]
    run = handed[0] if handed else SeatrialPlugin()
    if not handed:
        config.pluginmanager.register(run, "seatrial-run")
    run.config = config
    config.stash[RUN] = run
    from seatrial.harness import parallel

    if parallel.is_worker(config):  # its messages go to the controller, which prints them
        run.joins, run.held_log = parallel.RunLink.from_input(config), []
    elif parallel.is_controller(config):
        config.pluginmanager.register(parallel.ControllerHooks(run), "seatrial-controller")
    from seatrial.harness.claimcatalog import CLAIMS

    for claim, title in CLAIMS.items():
        config.addinivalue_line("markers", f"{claim}: {title}")
    for engine in ("docker", "docker_buildkit", "podman", "podman_rootless", "reference"):
        config.addinivalue_line("markers", f"engine_{engine}: a scenario item on {engine.replace('_', '-')}")
    config.addinivalue_line("markers", "benchmark: a benchmark scenario (runs with --bench)")


class SeatrialPlugin:
    """Holds the run (engines, session, events) for one pytest session; after pytest.main it
    holds the results (`state`) and why the run could not go on (the `*_error` fields)."""

    def __init__(self):
        self.config = None  # set by pytest_configure
        self._engines = None
        self.state = None
        self.engine_error: str | None = None
        self.not_run: list[tuple[str, str]] = []  # engines a default run found unavailable, and why
        self.results_error: str | None = None  # the results file could not be written: the run stopped
        self.usage_error: str | None = None  # a --run-id taken by a run that started meanwhile
        self.joins = None  # in a parallel run's worker: the controller's run (seatrial.harness.parallel)
        self.held_log: list[str] | None = None  # a worker's messages, for the controller to print

    def engines(self):
        if self._engines is None:
            from seatrial.engines.discovery import UnknownEngine, floors, load_engines

            assert self.config is not None, "pytest_configure sets it before collection"
            names = self.config.getoption("seatrial_engines") or None
            try:
                engines = load_engines(names)
            except UnknownEngine as exc:
                raise pytest.UsageError(str(exc)) from None
            bench = self.config.getoption("seatrial_bench") or self.config.getoption("seatrial_bench_full")
            added = []  # a benchmark run on the default engines measures the runtime floors beside them
            if bench and names is None:
                added = load_engines(sorted(floors()))
            available, missing = [], []
            for engine in engines + added:
                info = engine.info()
                (available if info.is_available else missing).append((engine, info))
            # A floor added by --bench is not asked for: where its runtime is absent, that is said, not fatal.
            fatal = [e for e, _ in missing if e not in added]
            if (names or self.config.getoption("seatrial_strict")) and fatal:
                self.engine_error = "; ".join(
                    f"engine '{e.name}': {i.unavailable_reason}" for e, i in missing if e in fatal
                )
                pytest.exit(self.engine_error, returncode=ENGINE_UNAVAILABLE_EXIT)
            # A default run uses what it finds, and says what it did not run and why.
            self.not_run = [(e.name, i.unavailable_reason) for e, i in missing]
            if not available:
                self.engine_error = "no engine is available here: " + "; ".join(
                    f"{e.name}: {i.unavailable_reason}" for e, i in missing
                )
                pytest.exit(self.engine_error, returncode=ENGINE_UNAVAILABLE_EXIT)
            self._engines = [e for e, _ in available]
        return self._engines

    def results_dir(self) -> Path:
        results = Path(self.config.getoption("seatrial_results"))
        return results if results.is_absolute() else Path(self.config.invocation_params.dir) / results

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session):
        """Refuse a --run-id whose results exist, before anything runs (exit 2 from `seatrial run`)."""
        from seatrial.harness.runstate import taken_run_id

        if self.joins is not None:
            return  # a worker joins the run its controller started: the file is meant to exist
        problem = taken_run_id(self.results_dir(), self.config.getoption("seatrial_run_id"))
        if problem:
            raise pytest.UsageError(problem)

    def run_state(self, *, session_id: str | None = None, run_id: str | None = None):
        """The run, started on first use (a parallel run's controller names its session and id)."""
        if self.state is None:
            from seatrial.harness.runstate import RunState

            self.state = RunState(
                engines=self.engines(),
                results_dir=self.results_dir(),
                log=self._log,
                run_id=run_id or self.config.getoption("seatrial_run_id"),
                session_id=session_id,
                joins=self.joins,
            )
        with self.results_guard():
            self.state.start()
        return self.state

    @contextlib.contextmanager
    def results_guard(self):
        """Stop the whole run, with one message, when the results file cannot be written."""
        from seatrial.harness.events import ResultsUnwritable
        from seatrial.harness.runstate import RunIdTaken

        try:
            yield
        except RunIdTaken as exc:
            self.usage_error = str(exc)
            pytest.exit(self.usage_error, returncode=pytest.ExitCode.USAGE_ERROR)
        except ResultsUnwritable as exc:
            self.results_error = str(exc)
            pytest.exit(self.results_error, returncode=RESULTS_UNWRITABLE_EXIT)

    def _log(self, message: str) -> None:
        """Print past pytest's output capture: reaping and leaks must be seen, even in a pass."""
        if self.held_log is not None:
            self.held_log.append(message)
            return
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if capture is None:
            print(message, flush=True)
            return
        with capture.global_and_fixture_disabled():
            if reporter is not None:
                reporter.write_line(message)
            else:
                print(message, flush=True)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.state is not None and self.state.is_started:
            self.state.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
            failure = self.state.events.failure if self.state.events else None
            if failure and not self.results_error:
                self.results_error = str(failure)  # the run_end could not be written
            if self.results_error:
                session.exitstatus = RESULTS_UNWRITABLE_EXIT
            elif (
                self.state.health.gone or self.state.health.degraded()
            ) and session.exitstatus != pytest.ExitCode.INTERRUPTED:
                session.exitstatus = ENGINE_UNAVAILABLE_EXIT
            elif self.state.leaks and session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.joins is not None:
            from seatrial.harness.parallel import KEY, worker_output

            assert self.config is not None  # a worker's run is configured before its session ends
            self.config.workeroutput[KEY] = worker_output(self)


def _is_scenario_file(file_path: Path, config) -> bool:
    """YAML under a folder named `scenarios` or a --scenario-root, or a file named explicitly;
    other YAML (test fixtures, CI files) is not a scenario."""
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    if {"scenarios", "benchmarks"} & set(file_path.parts[:-1]):
        return True
    resolved = file_path.resolve()
    roots = [Path(r).resolve() for r in config.getoption("seatrial_roots")]
    if any(resolved.is_relative_to(root) for root in roots):
        return True
    explicit = {Path(a.split("::")[0]).resolve() for a in config.args}
    return resolved in explicit


def pytest_ignore_collect(collection_path: Path, config):
    """Walk every folder under a --scenario-root: pytest's default `norecursedirs` skips folders
    named `build` or `dist`, and outside this project no pyproject.toml lifts that, so a user's
    `scenarios/build/` would vanish from `seatrial run DIR` without a word. Hidden folders and
    __pycache__ stay skipped."""
    if not collection_path.is_dir() or collection_path.name.startswith(".") or collection_path.name == "__pycache__":
        return None
    resolved = collection_path.resolve()
    roots = [Path(r).resolve() for r in config.getoption("seatrial_roots")]
    if any(resolved.is_relative_to(root) for root in roots):
        return False
    return None


def _register_marker(config, name: str, description: str) -> None:
    """Declare a scenario's tag as a marker, so `-m TAG` selects it and pytest does not warn."""
    if not any(line.split(":")[0].strip() == name for line in config.getini("markers")):
        config.addinivalue_line("markers", f"{name}: {description}")


def image_options(config):
    """--image, --dockerfile and --context: the image CST and goss files test."""
    from seatrial.harness.formats.imagesource import ImageSource

    dockerfile, context = config.getoption("seatrial_dockerfile"), config.getoption("seatrial_context")
    return ImageSource(
        image=config.getoption("seatrial_image"),
        dockerfile=dockerfile and Path(dockerfile),
        context=context and Path(context),
    )


def pytest_collect_file(file_path: Path, parent):
    if _is_scenario_file(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        from seatrial.harness.formats.foreign import load_scenarios
        from seatrial.harness.loader import ScenarioError

        try:
            scenarios = load_scenarios(self.path, image_options(self.config))
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        except (OSError, ValueError) as exc:  # the image's Dockerfile or context cannot be read
            raise self.CollectError(f"{self.path}: {exc}") from None
        run = self.config.stash[RUN]
        for scenario in scenarios:
            yield from self._items(scenario, run)

    def _items(self, scenario, run):
        if scenario.benchmark is not None:
            yield self._benchmark_item(scenario, run)
            return
        for engine in run.engines():
            item = ScenarioItem.from_parent(
                self, name=f"{scenario.name}[{engine.name}]", scenario=scenario, engine=engine, run=run
            )
            # By adapter: `-m engine_docker` takes docker on every machine (docker@vm1 too).
            item.add_marker(f"engine_{re.sub(r'[^a-z0-9]', '_', engine.name.partition('@')[0])}")
            for claim in scenario.claims:
                item.add_marker(claim)
            for tag in scenario.tags:
                _register_marker(self.config, tag, "a tag of scenarios")
                item.add_marker(tag)
            yield item

    def _benchmark_item(self, scenario, run):
        """One item spanning every engine: interleaving needs them all at once."""
        engines = run.engines()
        item = BenchmarkItem.from_parent(
            self,
            name=f"{scenario.name}[{'+'.join(e.name for e in engines)}]",
            scenario=scenario,
            engines=engines,
            run=run,
        )
        item.add_marker("benchmark")
        for claim in scenario.claims:
            item.add_marker(claim)
        options = self.config.getoption
        if not (options("seatrial_bench") or options("seatrial_bench_full")):
            item.add_marker(pytest.mark.skip(reason="a benchmark: run with --bench"))
        elif scenario.benchmark.full_only and not options("seatrial_bench_full"):
            item.add_marker(pytest.mark.skip(reason="a long benchmark: run with --bench-full"))
        return item
