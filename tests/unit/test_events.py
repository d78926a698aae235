import json

from seatrial.harness.events import EventLog
from seatrial.reports.eventfiles import read_events


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


def test_a_write_the_disk_refuses_names_the_path_and_errno_and_refuses_the_rest(tmp_path):
    import errno

    import pytest

    from seatrial.harness.events import ResultsUnwritable

    path = tmp_path / "events.jsonl"
    path.symlink_to("/dev/full")  # every write: ENOSPC
    log = EventLog(path, "run-1")
    with pytest.raises(ResultsUnwritable) as first:
        log.write("run_start", session="s1")
    assert first.value.errno == errno.ENOSPC
    assert str(path) in str(first.value) and "ENOSPC" in str(first.value)
    with pytest.raises(ResultsUnwritable):
        log.write("run_end")
    log.close()  # no second report of the same failure


def test_an_exclusive_log_refuses_an_existing_file(tmp_path):
    import pytest

    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "run_start"}\n')
    with pytest.raises(FileExistsError):
        EventLog(path, "run-1", exclusive=True)
    assert path.read_text() == '{"type": "run_start"}\n'
