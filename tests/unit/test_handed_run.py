"""`seatrial run` reads its results from the SeatrialPlugin it hands to pytest.main, not from a
module global: the plugin module adopts a handed run and makes none of its own."""

from __future__ import annotations

import pytest

from seatrial.harness.plugin import RUN, SeatrialPlugin


def test_the_run_handed_to_pytest_main_is_the_run_pytest_uses(tmp_path):
    run = SeatrialPlugin()
    code = pytest.main([str(tmp_path), "-q", "-p", "no:cacheprovider"], plugins=[run])
    assert code == pytest.ExitCode.NO_TESTS_COLLECTED
    assert run.config is not None and run.config.stash[RUN] is run
    assert run.config.pluginmanager.get_plugin("seatrial-run") is None  # no second run made


def test_a_plain_pytest_run_gets_a_run_of_its_own(tmp_path):
    seen = []

    class Spy:
        def pytest_sessionfinish(self, session):
            seen.append(session.config.stash[RUN])

    pytest.main([str(tmp_path), "-q", "-p", "no:cacheprovider"], plugins=[Spy()])
    [run] = seen
    assert isinstance(run, SeatrialPlugin) and run.config.pluginmanager.get_plugin("seatrial-run") is run
