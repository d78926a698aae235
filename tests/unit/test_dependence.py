"""The dependence rule: which later steps a failed step hides (harness/dependence.py)."""

from seatrial.harness.dependence import Dependence
from seatrial.harness.loader import load_scenario
from seatrial.harness.runner import step_dependence
from seatrial.harness.yamlsafe import load_yaml

BUILD = {"build": {"tag": "app", "dockerfile": "FROM {{ base }}\n"}}


def test_a_step_using_an_image_a_failed_build_made_is_hidden_and_others_are_not():
    dependence = Dependence.of_steps(
        [
            BUILD,
            {"run": {"image": "app", "name": "web", "detach": True}},
            {"run": {"image": "{{ base }}", "name": "other"}},
            {"exec": {"container": "web", "command": ["true"]}},
        ]
    )
    dependence.record(0, has_failed=True)
    hidden = dependence.hidden(1)
    assert hidden is not None and (hidden.cause, hidden.ref) == (0, ("image", "app"))
    dependence.record(1, has_failed=True, cause=hidden.cause)
    assert dependence.hidden(2) is None
    later = dependence.hidden(3)
    assert later is not None and (later.cause, later.ref) == (0, ("container", "web"))
    assert later.message == "step 4 did not run: it uses container 'web', made by step 1, which failed"


def test_placeholders_ports_networks_and_captures_are_uses():
    dependence = Dependence.of_steps(
        [
            {"network": {"name": "net"}},
            {"run": {"image": "{{ base }}", "name": "web", "detach": True, "ports": [{"container": 80}]}},
            {"run": {"image": "{{ base }}", "network": "net"}},
            {"probe": {"host": "127.0.0.1", "port": "{{ port.web.80 }}"}},
            {"run": {"image": "{{ base }}"}, "capture": {"stamp": "stdout"}},
            {"run": {"image": "{{ base }}"}, "expect": {"stdout": {"differs_from": "stamp"}}},
        ]
    )
    dependence.record(0, has_failed=True)
    dependence.record(1, has_failed=True)
    dependence.record(4, has_failed=True)
    assert dependence.hidden(2).ref == ("network", "net")
    assert dependence.hidden(3).ref in (("container", "web"), ("port", "web.80"))
    assert dependence.hidden(5).ref == ("capture", "stamp")


def test_a_step_that_makes_a_failed_name_again_and_holds_clears_it():
    dependence = Dependence.of_steps([BUILD, {"build": {"tag": "app"}}, {"run": {"image": "app"}}])
    dependence.record(0, has_failed=True)
    assert dependence.hidden(1) is None  # a rebuild makes the tag; it does not use the failed one
    dependence.record(1, has_failed=False)
    assert dependence.hidden(2) is None
    dependence.record(1, has_failed=True)
    assert dependence.hidden(2) is not None


def test_the_model_gives_the_same_links_as_the_file_for_every_library_scenario(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "scenarios"
    files = sorted(root.rglob("*.yaml"))
    assert files
    for file in files:
        raw = Dependence.of_steps(load_yaml(file).data["steps"]).links
        assert step_dependence(load_scenario(file)).links == raw, file


def test_the_report_lists_each_failed_check_with_its_step_and_place():
    from seatrial.reports.results import _items

    records = [
        {"type": "item_start", "run_id": "r", "scenario": "s", "engine": "e", "time": 1.0},
        {
            "type": "step",
            "scenario": "s",
            "engine": "e",
            "index": 1,
            "kind": "run",
            "place": "scenarios/s.yaml:9",
            "checks": [{"what": "exit code", "expected": "0", "actual": "1", "ok": False}],
        },
        {"type": "step", "scenario": "s", "engine": "e", "index": 3, "kind": "exec", "checks": []},
        {"type": "item_end", "scenario": "s", "engine": "e", "outcome": "failed", "reason": "r", "duration": 1},
    ]
    [item] = _items(records, "host")
    assert item["failed_checks"] == ["step 2 (run, scenarios/s.yaml:9): exit code: expected 0, got 1"]
