"""Engine output that says something was ignored becomes warnings: the lines are real ones,
captured from Podman 4.3 and Docker 20.10 on this kind of machine."""

from seatrial.engines.notices import engine_warnings

PODMAN_BUILD = """STEP 1/3: FROM seatrial/base:8460cdcbeb15
STEP 2/3: HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/bin/busybox", "true"]
time="2026-11-30T11:10:05Z" level=warning msg="HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format"
--> 864e6d480ca
STEP 3/3: CMD ["/bin/busybox", "sleep", "60"]
COMMIT hc-oci
time="2026-11-30T11:10:05Z" level=warning msg="HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format"
--> 724d0f80b59
"""
PODMAN_RUN = (
    'time="2026-11-30T11:10:09Z" level=error msg="unable to get systemd connection to add healthchecks: '
    'dial unix /run/systemd/private: connect: no such file or directory"\n'
)
DOCKER_RUN = "WARNING: Published ports are discarded when using host network mode\n"
DOCKER_CLASSIC = "Step 2/2 : CMD sh\n ---> abc\n[Warning] One or more build-args [UNUSED] were not consumed\n"


def test_podman_oci_healthcheck_warning_is_found_once():
    assert engine_warnings(PODMAN_BUILD) == (
        "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format",
    )


def test_podman_systemd_healthcheck_error_of_a_run_that_succeeded_is_a_warning():
    assert engine_warnings(PODMAN_RUN) == (
        "unable to get systemd connection to add healthchecks: dial unix "
        "/run/systemd/private: connect: no such file or directory",
    )


def test_docker_client_and_classic_builder_warnings_are_found():
    assert engine_warnings(DOCKER_RUN) == ("Published ports are discarded when using host network mode",)
    assert engine_warnings(DOCKER_CLASSIC) == ("One or more build-args [UNUSED] were not consumed",)


def test_podmans_plain_line_about_discarded_ports_is_a_warning():
    line = "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use"
    assert engine_warnings(f"{line}\n") == (line,)


def test_ordinary_output_is_no_warning():
    assert (
        engine_warnings(
            'STEP 1/2: FROM x\n--> Using cache 1234\nwarning: lowercase from a program\nlevel=info msg="x"\n'
        )
        == ()
    )


def test_escaped_quotes_in_a_logrus_message_are_unescaped():
    assert engine_warnings('level=warning msg="path \\"/x\\" will be ignored"') == ('path "/x" will be ignored',)


def test_a_warning_of_a_build_is_a_record_and_on_the_item_result_which_still_passes(tmp_path):
    import json

    from fakes import RecordingEngine

    from seatrial.harness.events import EventLog
    from seatrial.harness.itemcontext import ItemContext
    from seatrial.harness.model import Scenario
    from seatrial.harness.outcome import Outcome
    from seatrial.harness.runner import run_item
    from seatrial.harness.session import Session

    class WarningEngine(RecordingEngine):
        def build(self, spec):
            import dataclasses

            return dataclasses.replace(super().build(spec), warnings=engine_warnings(PODMAN_BUILD))

    scenario = Scenario.model_validate(
        {
            "schema_version": 1,
            "name": "t",
            "summary": "x",
            "steps": [{"build": {"tag": "app", "dockerfile": "FROM x\nHEALTHCHECK CMD true\n"}}],
        }
    )
    session = Session.start()
    try:
        events = EventLog(tmp_path / "events.jsonl", "run1")
        ctx = ItemContext(
            engine=WarningEngine(), session=session, scenario=scenario, index=1, base_image=lambda e: "base:1"
        )
        result = run_item(ctx, events)
        events.sync()
    finally:
        session.close()
    message = "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format"
    assert result.outcome is Outcome.PASSED
    assert result.warnings == [f"step 1 (build): {message}"]
    records = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    warnings = [r for r in records if r["type"] == "warning"]
    assert [(w["index"], w["kind"], w["message"], w["engine"]) for w in warnings] == [(0, "build", message, "fake")]
    assert [r["warnings"] for r in records if r["type"] == "item_end"] == [[f"step 1 (build): {message}"]]


def test_the_terminal_summary_shows_each_warning_under_its_item():
    import io

    from rich.console import Console

    from seatrial.harness.console import ConsoleReporter
    from seatrial.harness.outcome import ItemResult, Outcome

    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=200, highlight=False))
    reporter.print_matrix(
        [
            ItemResult(
                "healthcheck", "podman", Outcome.PASSED, warnings=["step 1 (build): HEALTHCHECK ... will be ignored"]
            ),
            ItemResult("healthcheck", "docker", Outcome.PASSED),
        ]
    )
    lines = [line for line in out.getvalue().splitlines() if "warning:" in line]
    assert lines == ["  healthcheck on podman: warning: step 1 (build): HEALTHCHECK ... will be ignored"]


def test_results_for_reports_carry_the_warnings_of_each_item(tmp_path):
    import json

    from seatrial.reports.results import load_results

    records = [
        {"type": "run_start", "run_id": "r", "time": 1.0, "host": {"hostname": "h"}, "engines": [{"name": "podman"}]},
        {"type": "item_start", "run_id": "r", "time": 2.0, "scenario": "s", "engine": "podman"},
        {
            "type": "warning",
            "run_id": "r",
            "time": 3.0,
            "scenario": "s",
            "engine": "podman",
            "index": 0,
            "kind": "build",
            "message": "HEALTHCHECK will be ignored",
        },
        {
            "type": "item_end",
            "run_id": "r",
            "time": 4.0,
            "scenario": "s",
            "engine": "podman",
            "outcome": "passed",
            "reason": "",
        },
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    items = load_results([tmp_path]).items
    assert items["warnings"].tolist() == [["step 1 (build): HEALTHCHECK will be ignored"]]
    # ... and every report shows them, though the item held.
    from seatrial.reports.html import render_html
    from seatrial.reports.text import render_junit, render_markdown

    results = load_results([tmp_path])
    assert "- **s** on podman: step 1 (build): HEALTHCHECK will be ignored" in render_markdown(results)
    assert 'name="warning" value="step 1 (build): HEALTHCHECK will be ignored"' in render_junit(results)["podman"]
    assert "warning: step 1 (build): HEALTHCHECK will be ignored" in render_html(results)
