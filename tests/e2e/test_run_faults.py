"""No fault becomes a pass: `seatrial run` on a real engine, faulted from outside.

Each test makes one thing go wrong the way it does on a real machine - a signal (once, or twice
while the item tears down), the engine's daemon going away mid-run (its socket, through a relay
that is killed), a results disk that fills up - and checks that the run says so: the item is
`interrupted` or `error`, never passed; the exit code names the fault; no traceback; the events
file stays valid; and nothing of the session is left once the run (or `seatrial clean`) ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import ENGINE, FIXTURES, SEATRIAL, _start_and_wait_for_sleeper, engine_available, labelled, seatrial

SOCKPROXY = Path(__file__).resolve().parents[1] / "faults" / "sockproxy.py"
LOCKS = Path("/run/seatrial/sessions")  # the machine's; a private one would judge others' sessions
SCRATCH = Path("/run/seatrial/scratch")


def private_reference(tmp_path: Path) -> dict:
    """`seatrial clean` also prunes the reference runtime's layer store: keep it to a private
    one here, so that these Docker tests judge no other session's builds."""
    return {**os.environ, "SEATRIAL_REFERENCE_ROOT": str(tmp_path / "reference")}


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not engine_available(ENGINE), reason=f"{ENGINE} is not available here"),
]


def read_lines(path: Path) -> list[dict]:
    """Every line of an events file as JSON: a torn line fails the test."""
    text = path.read_text()
    assert text.endswith("\n"), f"{path} ends mid-line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def item_ends(records: list[dict]) -> dict[str, dict]:
    return {r["scenario"]: r for r in records if r["type"] == "item_end"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_an_item_makes_it_interrupted_in_events_and_claims(tmp_path, signum):
    proc, session = _start_and_wait_for_sleeper(tmp_path)
    os.kill(proc.pid, signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    [events] = tmp_path.glob("*/events.jsonl")
    records = read_lines(events)
    end = item_ends(records)["sleeper"]
    assert end["outcome"] == "interrupted", end
    assert end["reason"] == f"interrupted ({signum.name}) in step 4 (exec)"  # the fourth step, counted from 1
    assert records[-1]["type"] == "run_end" and records[-1]["interrupted"] is True
    assert "INTERRUPTED" in output[output.index("scenario x engine") :]
    claims = seatrial("claims", str(events), cwd=tmp_path)
    c08 = next(line for line in claims.stdout.splitlines() if "C08" in line and "│" in line)
    assert "interrupted" in c08 and "held" not in c08, claims.stdout
    assert labelled(f"seatrial.session={session}") == []


def test_second_signal_forces_the_teardown_short_and_clean_removes_the_rest(tmp_path):
    proc, session = _start_and_wait_for_sleeper(tmp_path)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.3)  # inside the item's teardown: removing a container with a running exec
    os.kill(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    [events] = tmp_path.glob("*/events.jsonl")
    end = item_ends(read_lines(events))["sleeper"]
    assert end["outcome"] == "interrupted", end
    clean = seatrial("clean", cwd=tmp_path, env=private_reference(tmp_path))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert labelled(f"seatrial.session={session}") == []
    assert not (LOCKS / f"{session}.lock").exists() and not (SCRATCH / session).exists()


@pytest.mark.skipif(ENGINE != "docker", reason="the daemon is cut off through DOCKER_HOST")
def test_daemon_that_goes_away_makes_the_remaining_items_errors_and_the_run_exit_3(tmp_path):
    relay_socket = tmp_path / "docker.sock"
    relay = subprocess.Popen(
        [sys.executable, str(SOCKPROXY), str(relay_socket), "/var/run/docker.sock"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert relay.stdout.readline().strip() == "ready"
        env = {**os.environ, "DOCKER_HOST": f"unix://{relay_socket}"}
        run = subprocess.Popen(
            [
                *SEATRIAL,
                "run",
                str(FIXTURES / "slow"),
                str(FIXTURES / "good"),
                "--engine",
                "docker",
                "--results-dir",
                str(tmp_path),
            ],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        session = _wait_for_container(tmp_path)
        relay.kill()  # dockerd "dies" for this run: its socket is gone, every stream drops
        out, err = run.communicate(timeout=120)
    finally:
        relay.kill()
        relay.wait()
    assert run.returncode == 3, out + err
    assert "Traceback" not in out + err
    records = read_lines(next(tmp_path.glob("*/events.jsonl")))
    ends = item_ends(records)
    assert set(ends) == {"sleeper", "echo"}
    for end in ends.values():
        assert end["outcome"] == "error", end
        assert end["reason"].startswith("engine 'docker' became unavailable: "), end
        assert "\n" not in end["reason"]
    assert records[-1]["type"] == "run_end"
    assert records[-1]["engines_unavailable"]["docker"].startswith("engine 'docker' became unavailable: ")
    assert "engine 'docker' became unavailable" in err
    left = labelled(f"seatrial.session={session}")  # the real daemon still holds them
    assert left, "the relay was cut before the item made anything"
    clean = seatrial("clean", cwd=tmp_path, env=private_reference(tmp_path))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert labelled(f"seatrial.session={session}") == []


def _wait_for_container(results: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(results.glob("*/events.jsonl"))
        lines = found[0].read_text().splitlines() if found else []
        if lines:
            session = json.loads(lines[0])["session"]
            if any(ref.startswith("container") for ref in labelled(f"seatrial.session={session}")):
                time.sleep(1.0)  # inside the 60 s exec of the slow fixture's last step
                return session
        time.sleep(0.3)
    raise AssertionError("the slow fixture never started its container")


@pytest.fixture
def small_disk(tmp_path):
    """A 16 KiB tmpfs: room for the run's start and a few steps, not for ten chatty ones."""
    mount = tmp_path / "results"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "seatrial-full", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_results_disk_stops_the_run_with_one_message_and_exit_5(tmp_path, small_disk):
    proc = seatrial(
        "run",
        str(FIXTURES / "chatty"),
        str(FIXTURES / "good"),
        "--engine",
        ENGINE,
        "--results-dir",
        str(small_disk),
        cwd=tmp_path,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 5, output
    assert "Traceback" not in output
    [events] = small_disk.glob("*/events.jsonl")
    message = [line for line in proc.stderr.splitlines() if "cannot write results" in line]
    assert message == [message[0]] and str(events) in message[0] and "errno 28 ENOSPC" in message[0], output
    assert len(output.splitlines()) < 40, output
    records = read_lines(events)  # valid up to the last complete record
    assert records[0]["type"] == "run_start" and records[-1]["type"] != "run_end"
    assert "echo" not in {r.get("scenario") for r in records}, "the run went on after the disk filled"
    session = records[0]["session"]
    assert not (LOCKS / f"{session}.lock").exists()
    assert not (SCRATCH / session).exists()
    assert labelled(f"seatrial.session={session}") == []
