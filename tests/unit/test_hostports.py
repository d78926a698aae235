"""Host ports for publishing are reserved, not just probed: two workers (processes) of a parallel
run never get the same port, even when the kernel offers both the same ephemeral port, and an
item holds its ports until its teardown has removed the containers that publish them."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from fakes import RecordingEngine
from test_runner import make_ctx, session  # noqa: F401  (fixture)

from seatrial.harness import hostports
from seatrial.harness.hostports import PortReservations, is_bindable
from seatrial.harness.runner import run_item


def offered(monkeypatch, *ports: int) -> None:
    """The kernel's ephemeral choice, made to offer these ports in this order (then the real one)."""
    queue = list(ports)
    real = hostports._ephemeral_port
    monkeypatch.setattr(hostports, "_ephemeral_port", lambda: queue.pop(0) if queue else real())


def is_locked_elsewhere(path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_port_another_process_holds_is_never_handed_out(tmp_path, monkeypatch):
    """A second process reserves a port and waits; this process is offered the same port first
    and must pass it over."""
    directory = tmp_path / "ports"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys
                from pathlib import Path
                from seatrial.harness.hostports import PortReservations
                held = PortReservations(Path({str(directory)!r}))
                print(held.reserve(), flush=True)
                sys.stdin.read()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        theirs = int(child.stdout.readline())
        offered(monkeypatch, theirs, theirs)
        ours = PortReservations(directory)
        mine = ours.reserve()
        assert mine != theirs
        assert is_locked_elsewhere(directory / f"{theirs}.lock")
        ours.release()
    finally:
        child.communicate("", timeout=30)
    # The child exited: the kernel dropped its lock, so the port is anyone's again.
    offered(monkeypatch, theirs)
    assert PortReservations(directory).reserve() == theirs


def test_a_port_bound_by_anyone_is_passed_over_even_without_a_reservation(tmp_path, monkeypatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        assert not is_bindable(busy)
        offered(monkeypatch, busy)
        got = PortReservations(tmp_path / "ports").reserve()
        assert got != busy and is_bindable(got)


def test_release_unlinks_the_locks_and_gives_the_ports_back(tmp_path):
    reservations = PortReservations(tmp_path / "ports")
    ports = {reservations.reserve() for _ in range(5)}
    assert len(ports) == 5 and set(reservations.ports) == ports
    assert sorted(p.name for p in (tmp_path / "ports").iterdir()) == sorted(f"{p}.lock" for p in ports)
    reservations.release()
    reservations.release()  # twice is harmless (a teardown cut short, then the item's end)
    assert list((tmp_path / "ports").iterdir()) == [] and reservations.ports == ()


def test_no_port_free_says_where_and_what_to_check(tmp_path, monkeypatch):
    directory = tmp_path / "ports"
    holder = PortReservations(directory)
    port = holder.reserve()
    monkeypatch.setattr(hostports, "_ephemeral_port", lambda: port)
    with pytest.raises(RuntimeError, match=f"no free loopback port after 200 tries \\(reservations in {directory}\\)"):
        PortReservations(directory).reserve()


def test_workers_side_by_side_never_share_a_port(tmp_path):
    """Four processes reserve 60 ports each at the same time from a pool of 400 candidate ports
    (the kernel's choice narrowed, so that collisions are offered often): no port twice."""
    directory = tmp_path / "ports"
    script = textwrap.dedent(f"""
        import random
        from pathlib import Path
        from seatrial.harness import hostports
        hostports._ephemeral_port = lambda: random.randrange(41000, 41400)
        held = hostports.PortReservations(Path({str(directory)!r}))
        print(" ".join(str(held.reserve()) for _ in range(60)), flush=True)
        input()
    """)
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        got = [w.stdout.readline().split() for w in workers if w.stdout is not None]
    finally:
        for worker in workers:
            worker.communicate("\n", timeout=30)
    every = [port for ports in got for port in ports]
    assert len(every) == 240 and len(set(every)) == 240


def test_an_item_holds_its_published_port_until_teardown(session, monkeypatch):
    """The port is locked while the engine publishes it and given back after the item."""
    seen = {}

    class Publishing(RecordingEngine):
        def run(self, spec):
            [mapping] = spec.ports
            seen["port"] = mapping.host_port
            seen["locked"] = is_locked_elsewhere(hostports.reservation_dir() / f"{mapping.host_port}.lock")
            return super().run(spec)

    steps = [{"run": {"name": "web", "image": "i", "detach": True, "ports": [{"container": 80}]}}]
    ctx = make_ctx(Publishing(name="fake"), session, steps)
    result = run_item(ctx)
    assert result.outcome.value == "passed", result.reason
    assert seen["locked"] is True and ctx.ports["web.80"] == seen["port"]
    assert not (hostports.reservation_dir() / f"{seen['port']}.lock").exists()
    assert ctx.reservations.ports == ()
