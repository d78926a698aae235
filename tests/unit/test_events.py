import json

from seatrial.events import EventLog, read_events


def test_events_are_one_json_object_per_line_with_type_run_and_time(tmp_path):
    log = EventLog(tmp_path / "r" / "events.jsonl", "run-1", clock=lambda: 42.0)
    log.write("run_start", session="s1")
    log.write("step", index=0, checks=[{"ok": True}])
    log.close()
    lines = (tmp_path / "r" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"type": "run_start", "run_id": "run-1", "time": 42.0, "session": "s1"},
        {"type": "step", "run_id": "run-1", "time": 42.0, "index": 0, "checks": [{"ok": True}]},
    ]


def test_a_torn_last_line_of_a_killed_run_is_ignored(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "run_start"}\n{"type": "ste')
    assert read_events(path) == [{"type": "run_start"}]
