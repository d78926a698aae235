"""PSS accounting of density rounds (seatrial.harness.memory) on a made-up /proc."""

from __future__ import annotations

import pytest

from seatrial.harness import memory
from seatrial.harness.itemcontext import StepError

ZYGOTE = b"python3\0-c\0import sys; from seatrial.engines.reference.zygote import serve\0"


def fake_proc(tmp_path, processes):
    """processes: pid -> (ppid, comm, cmdline, pss_kib)."""
    for pid, (ppid, comm, cmdline, pss_kib) in processes.items():
        folder = tmp_path / str(pid)
        folder.mkdir()
        (folder / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1\n")
        (folder / "cmdline").write_bytes(cmdline)
        (folder / "smaps_rollup").write_text(f"Rss: {pss_kib * 3} kB\nPss:   {pss_kib} kB\nPss_Anon: 1 kB\n")
    (tmp_path / "self").mkdir()
    return tmp_path


def test_pss_reads_the_pss_line_in_bytes_and_zero_for_a_gone_process(tmp_path):
    proc = fake_proc(tmp_path, {7: (1, "sleep", b"sleep\0", 120)})
    assert memory.pss(7, proc) == 120 * 1024
    assert memory.pss(8, proc) == 0


def test_process_table_keeps_a_comm_with_spaces_and_parentheses(tmp_path):
    proc = fake_proc(tmp_path, {9: (4, "a (b) c", b"x\0", 1)})
    assert memory.process_table(proc) == {9: (4, "a (b) c", b"x\0")}


def test_reference_daemons_are_the_harness_and_its_zygote_not_the_shims_forked_from_it():
    table = {
        100: (1, "python3", b"seatrial"),
        101: (100, "python3", ZYGOTE),  # the zygote
        102: (101, "python3", ZYGOTE),  # a shim: same command line, child of the zygote
        103: (102, "sleep", b"sleep\0"),
    }
    assert memory.daemon_pids("reference", table, 100) == [100, 101]


def test_docker_family_daemons_are_found_by_command_name():
    table = {5: (1, "dockerd", b""), 6: (1, "containerd", b""), 7: (1, "containerd-shim", b""), 8: (1, "conmon", b"")}
    assert memory.daemon_pids("docker-buildkit", table, 99) == [5, 6]
    assert memory.daemon_pids("podman-rootless", table, 99) == []


def test_an_engine_without_known_daemons_is_an_error_naming_the_fix():
    with pytest.raises(StepError, match=r"engine 'relay' has no known daemons.*DAEMON_NAMES"):
        memory.daemon_pids("relay", {}, 1)


def test_descendants_take_the_whole_tree_below_the_roots_and_skip_gone_roots():
    table = {10: (1, "shim", b""), 11: (10, "sh", b""), 12: (11, "sleep", b""), 13: (1, "other", b"")}
    assert memory.descendants([11, 404], table) == {11, 12}
