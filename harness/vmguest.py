"""Running seatrial inside a VM that is up: the command given to the guest over ssh, its
environment, the run (in one lane, or in several side by side, see vmlanes) and its results
copied back under results/ (see vmresults). `seatrial vm` (vm.py) brings the machine up first."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from seatrial.harness import vmlanes, vmresults
from seatrial.harness.vmbox import Machine
from seatrial.harness.vmlanes import Lane
from seatrial.harness.vmrunner import HOURS, Vagrant, VmError

GUEST_PROJECT = "/seatrial"


def new_run_id(machine: Machine, now: float) -> str:
    """A results folder name that sorts by time and says which VM ran it."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{machine.name}-{secrets.token_hex(3)}"


def remote_run_command(run_id: str, run_args: list[str], env: dict[str, str] | None = None) -> str:
    """The shell command for the guest (ssh takes one string): seatrial run as root, with `env`."""
    assigned = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    argv = [
        "sudo",
        "-n",
        *assigned,
        "/usr/local/bin/seatrial",
        "run",
        "--results-dir",
        f"{GUEST_PROJECT}/results",
        "--run-id",
        run_id,
        *run_args,
    ]
    return f"cd {GUEST_PROJECT} && " + shlex.join(argv)


class guest_ssh:
    """`ssh` argument list for the machine, from `vagrant ssh-config` (one Vagrant start, then
    plain ssh: Vagrant's own `ssh -c` costs seconds per call)."""

    def __init__(self, vg: Vagrant, machine: Machine):
        self.vg, self.machine = vg, machine

    def __enter__(self) -> list[str]:
        self.tmp = tempfile.TemporaryDirectory(prefix="seatrial-vm-")
        config = Path(self.tmp.name) / "ssh_config"
        config.write_text(self.vg.capture(["vagrant", "ssh-config", self.machine.name]))
        return ["ssh", "-F", str(config), "-o", "LogLevel=ERROR", self.machine.name, "--"]

    def __exit__(self, *exc) -> None:
        self.tmp.cleanup()


def guest_env(driver: str) -> dict[str, str]:
    """What seatrial run in the guest needs: under emulation an engine's `info` took over the
    default 20 s in a loaded VM (podman, two lanes), and the engine then counted as gone."""
    return {"SEATRIAL_INFO_TIMEOUT": "120"} if driver != "kvm" else {}


def run_inside(
    vg: Vagrant,
    machine: Machine,
    run_args: list[str],
    results_dir: Path,
    *,
    sync: bool = True,
    lanes: Sequence[Lane] = (),
) -> int:
    """seatrial run inside the (running) machine; its results copied back; its exit code (the
    highest of its lanes' when the engines run in lanes at once, see vmlanes).
    `sync`: copy the project in first (`vagrant up` has just done it when it booted the VM)."""
    if sync:
        vg.say(f"syncing the project into {machine.name}:{GUEST_PROJECT}")
        vg.stream(["vagrant", "rsync", machine.name], timeout=900)
    run_id = new_run_id(machine, time.time())
    with guest_ssh(vg, machine) as ssh:
        if not lanes:
            vg.say(f"seatrial run on every engine in {machine.name} (run {run_id})")
            env = guest_env(vg.env["SEATRIAL_LIBVIRT_DRIVER"])
            code = vg.stream([*ssh, remote_run_command(run_id, run_args, env)], timeout=12 * HOURS, check=False)
            run_ids = [run_id]
        else:
            run_ids = [f"{run_id}-{lane.name}" for lane in lanes]
            for lane, lane_run in zip(lanes, run_ids):
                vg.say(
                    f"lane {lane.name}: seatrial run on {', '.join(lane.engines)} in {machine.name} (run {lane_run})"
                )
            env = guest_env(vg.env["SEATRIAL_LIBVIRT_DRIVER"])
            codes = vmlanes.stream_all(
                [
                    [*ssh, remote_run_command(lane_run, lane.run_args(run_args), env)]
                    for lane, lane_run in zip(lanes, run_ids)
                ],
                [lane.name for lane in lanes],
                vg.say,
                timeout=12 * HOURS,
            )
            code = max(codes)
        vg.say(f"seatrial run in {machine.name} exited {code}; copying results/{', '.join(run_ids)} back")
        for one in run_ids:
            copy_back(ssh, one, results_dir)
    for one in run_ids:
        vg.say(f"results: {results_dir / one / 'events.jsonl'}")
    return code


def copy_back(ssh: list[str], run_id: str, results_dir: Path) -> list[Path]:
    """The guest's results/<run_id> unpacked under results_dir (see vmresults)."""
    tar = f"sudo -n tar -C {GUEST_PROJECT}/results -c -- {shlex.quote(run_id)}"
    with subprocess.Popen(
        [*ssh, tar], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            written = vmresults.unpack_run(proc.stdout, run_id, results_dir)
        except (vmresults.UnsafeArchive, OSError, EOFError, tarfile.TarError) as err:
            proc.kill()
            raise VmError(
                f"copying results/{run_id} back from the VM failed: {err}; "
                f"stderr: {proc.stderr.read().decode(errors='replace').strip()}"
            ) from None
        if proc.wait(timeout=300) != 0:
            raise VmError(
                f"copying results/{run_id} back from the VM failed: "
                f"{proc.stderr.read().decode(errors='replace').strip()}"
            )
    return written
