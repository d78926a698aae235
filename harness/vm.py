"""`seatrial vm`: the scenario library inside real Vagrant VMs (libvirt provider).

    build-box  vagrant/build-box.sh makes a Debian box locally; `vagrant box add` caches it
    up         the box built if missing; `vagrant up` (KVM, or QEMU emulation without it) runs
               vagrant/provision.sh inside from nothing, as on a newcomer's machine
    run        up, then `seatrial run` inside on every engine, results copied back under results/
    down       `vagrant destroy`, then a sweep of what a killed Vagrant can leave in libvirt

Vagrant keeps its boxes in VAGRANT_HOME, here /var/cache/seatrial/vagrant (not ~/.vagrant.d:
/root is closed to the libvirt-qemu user, which must read the box's kernel and initrd)."""
from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from seatrial import vmhost, vmresults

VAGRANT_HOME = Path(os.environ.get("SEATRIAL_VAGRANT_HOME", "/var/cache/seatrial/vagrant"))
BOX_CACHE = Path("/var/cache/seatrial/boxes")
GUEST_PROJECT = "/seatrial"
DOMAIN_PREFIX = "seatrial-vm-"          # the Vagrantfile's lv.default_prefix
NETWORK = "seatrial-vagrant"            # the Vagrantfile's management network
POOL = "default"
HOURS = 3600


@dataclass(frozen=True)
class Machine:
    """A machine of vagrant/Vagrantfile and the box it boots."""
    name: str       # the Vagrantfile's machine name; the guest's hostname is seatrial-<name>
    dist: str       # the Debian suite build-box.sh bootstraps
    box: str        # the box's name in VAGRANT_HOME

    @property
    def box_dir(self) -> Path:
        return VAGRANT_HOME / "boxes" / self.box.replace("/", "-VAGRANTSLASH-")

    @property
    def base_volume_prefix(self) -> str:
        """vagrant-libvirt uploads the box's image into the pool once, under this name prefix."""
        return self.box.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"


MACHINES = {m.name: m for m in (Machine("debian12", "bookworm", "seatrial/debian12"),
                                Machine("debian13", "trixie", "seatrial/debian13"))}


class VmError(Exception):
    """An expected failure of a vm step: the message says what, where and what to do."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def find_vagrant_dir(cwd: Path, package: Path) -> Path:
    """vagrant/ of the checkout: the current folder's, else the editable install's."""
    for project in (cwd, package.parent):
        if (project / "vagrant" / "Vagrantfile").is_file():
            return project / "vagrant"
    raise VmError("seatrial vm: vagrant/Vagrantfile not found in the current folder or beside the installed "
                  "package; run it from a checkout of the project", 2)


def has_box(machine: Machine) -> bool:
    return any(machine.box_dir.glob("*/libvirt/box.img"))


def new_run_id(machine: Machine, now: float) -> str:
    """A results folder name that sorts by time and says which VM ran it."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{machine.name}-{secrets.token_hex(3)}"


def vagrant_env(base: dict[str, str], driver: str) -> dict[str, str]:
    """Vagrant's environment: our box cache, the libvirt driver, and no `run` provisioner (the
    suite is run over ssh so that its exit code and results come back)."""
    return {**base, "VAGRANT_HOME": str(VAGRANT_HOME), "SEATRIAL_LIBVIRT_DRIVER": driver,
            "SEATRIAL_VM_RUN": "0", "VAGRANT_DEFAULT_PROVIDER": "libvirt",
            "VAGRANT_CHECKPOINT_DISABLE": "1"}   # no version check over the network


def remote_run_command(run_id: str, run_args: list[str]) -> str:
    """The shell command for the guest (ssh takes one string): seatrial run as root."""
    argv = ["sudo", "-n", "/usr/local/bin/seatrial", "run", "--results-dir", f"{GUEST_PROJECT}/results",
            "--run-id", run_id, *run_args]
    return f"cd {GUEST_PROJECT} && " + shlex.join(argv)


def sweep_commands(domains: list[str], volumes: list[str], networks: list[str], *,
                   boxes: list[Machine] = ()) -> list[list[str]]:
    """virsh calls that remove what the VMs left in libvirt: domains, their disks, the
    management network; with `boxes`, those boxes' base images too (the box cache)."""
    virsh = ["virsh", "-c", vmhost.LIBVIRT_URI]
    cmds = []
    for d in (d for d in domains if d.startswith(DOMAIN_PREFIX)):
        cmds += [[*virsh, "destroy", d], [*virsh, "undefine", d]]
    box_prefixes = tuple(m.base_volume_prefix for m in boxes)
    for v in volumes:
        if v.startswith(DOMAIN_PREFIX) or (box_prefixes and v.startswith(box_prefixes)):
            cmds.append([*virsh, "vol-delete", "--pool", POOL, v])
    if NETWORK in networks:
        cmds += [[*virsh, "net-destroy", NETWORK], [*virsh, "net-undefine", NETWORK]]
    return cmds


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def clean_line(raw: str) -> str | None:
    """A line of Vagrant's output as a log shows it: without terminal codes and the redrawn
    `Progress: N%` counter (None for those)."""
    line = _ANSI.sub("", raw).split("\r")[-1].rstrip()
    if not line or re.fullmatch(r"\s*Progress: \d+%.*", line):
        return None
    return line


class Vagrant:
    """Runs vagrant (and ssh, virsh) in vagrant/ with our environment, prefixing each output line
    with the elapsed time so long steps show progress."""

    def __init__(self, vagrant_dir: Path, env: dict[str, str], out: TextIO,
                 clock: Callable[[], float] = time.monotonic):
        self.dir, self.env, self.out, self.clock = vagrant_dir, env, out, clock
        self.started = clock()

    def say(self, message: str) -> None:
        print(f"vm [{self.clock() - self.started:5.0f}s] {message}", file=self.out, flush=True)

    def stream(self, argv: list[str], timeout: float, *, check: bool = True) -> int:
        """Run argv, relaying its output line by line; its exit code (VmError if check and not 0)."""
        deadline = self.clock() + timeout
        with subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            try:
                for raw in iter(proc.stdout.readline, b""):
                    line = clean_line(raw.decode(errors="replace"))
                    if line is not None:
                        self.say(line)
                    if self.clock() > deadline:
                        proc.kill()
                        raise VmError(f"{shlex.join(argv)}: no end after {timeout:.0f} s; killed")
                code = proc.wait(timeout=max(1.0, deadline - self.clock()))
            except BaseException:
                proc.kill()
                raise
        if check and code != 0:
            raise VmError(f"{shlex.join(argv)} exited {code} (its output is above)")
        return code

    def capture(self, argv: list[str], timeout: float = 120) -> str:
        """Run argv quietly and return its stdout; VmError with its stderr when it fails."""
        try:
            done = subprocess.run(argv, cwd=self.dir, env=self.env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise VmError(f"{shlex.join(argv)}: no answer after {timeout:.0f} s") from None
        if done.returncode != 0:
            raise VmError(f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        return done.stdout


def build_box(vg: Vagrant, machine: Machine) -> None:
    """Build the machine's box with vagrant/build-box.sh and add it to the cache, replacing the
    old one and its stale base image in libvirt's pool (vagrant-libvirt would reuse it)."""
    BOX_CACHE.mkdir(parents=True, exist_ok=True)
    box_file = BOX_CACHE / f"{machine.dist}.box"
    vg.say(f"building the box {machine.box} (Debian {machine.dist}; about 2.5 minutes)")
    try:
        vg.stream(["bash", str(vg.dir / "build-box.sh"), machine.dist, str(box_file)], timeout=1 * HOURS)
        vg.stream(["vagrant", "box", "add", "--force", "--name", machine.box, str(box_file)], timeout=900)
    finally:
        box_file.unlink(missing_ok=True)   # the unpacked box in VAGRANT_HOME is the cache
    for argv in sweep_commands([], _volumes(vg), [], boxes=[machine]):
        vg.capture(argv)
    vg.say(f"box {machine.box} cached in {machine.box_dir}")


def up(vg: Vagrant, machine: Machine) -> None:
    """Boot the machine (building its box first if missing) and provision it with provision.sh."""
    if not has_box(machine):
        build_box(vg, machine)
    vg.say(f"vagrant up {machine.name} ({vg.env['SEATRIAL_LIBVIRT_DRIVER']}); first boot provisions "
           "from nothing with vagrant/provision.sh")
    vg.stream(["vagrant", "up", machine.name, "--provider", "libvirt", "--provision-with", "provision"],
              timeout=2 * HOURS)


def run(vg: Vagrant, machine: Machine, run_args: list[str], results_dir: Path) -> int:
    """seatrial run inside the (running) machine; its results copied back; its exit code."""
    vg.say(f"syncing the project into {machine.name}:{GUEST_PROJECT}")
    vg.stream(["vagrant", "rsync", machine.name], timeout=900)
    run_id = new_run_id(machine, time.time())
    with tempfile.TemporaryDirectory(prefix="seatrial-vm-") as tmp:
        config = Path(tmp) / "ssh_config"
        config.write_text(vg.capture(["vagrant", "ssh-config", machine.name]))
        ssh = ["ssh", "-F", str(config), "-o", "LogLevel=ERROR", machine.name, "--"]
        vg.say(f"seatrial run on every engine in {machine.name} (run {run_id})")
        code = vg.stream([*ssh, remote_run_command(run_id, run_args)], timeout=12 * HOURS, check=False)
        vg.say(f"seatrial run in {machine.name} exited {code}; copying results/{run_id} back")
        copy_back(ssh, run_id, results_dir)
    vg.say(f"results: {results_dir / run_id / 'events.jsonl'}")
    return code


def copy_back(ssh: list[str], run_id: str, results_dir: Path) -> list[Path]:
    """The guest's results/<run_id> unpacked under results_dir (see vmresults)."""
    tar = f"sudo -n tar -C {GUEST_PROJECT}/results -c -- {shlex.quote(run_id)}"
    with subprocess.Popen([*ssh, tar], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            written = vmresults.unpack_run(proc.stdout, run_id, results_dir)
        except (vmresults.UnsafeArchive, OSError, EOFError, __import__("tarfile").TarError) as err:
            proc.kill()
            raise VmError(f"copying results/{run_id} back from the VM failed: {err}; "
                          f"stderr: {proc.stderr.read().decode(errors='replace').strip()}") from None
        if proc.wait(timeout=300) != 0:
            raise VmError(f"copying results/{run_id} back from the VM failed: "
                          f"{proc.stderr.read().decode(errors='replace').strip()}")
    return written


def down(vg: Vagrant, *, boxes: list[Machine] = ()) -> None:
    """Destroy every machine, then remove what a killed Vagrant can leave in libvirt."""
    vg.say("vagrant destroy -f (every machine)")
    vg.stream(["vagrant", "destroy", "-f"], timeout=900, check=False)
    virsh = ["virsh", "-c", vmhost.LIBVIRT_URI]
    domains = vg.capture([*virsh, "list", "--all", "--name"]).split()
    networks = vg.capture([*virsh, "net-list", "--all", "--name"]).split()
    for argv in sweep_commands(domains, _volumes(vg), networks, boxes=boxes):
        vg.say(" ".join(argv[3:]))
        # destroy fails on a domain that is shut off, net-destroy on an inactive network: fine,
        # the undefine that follows is what matters and is checked below.
        subprocess.run(argv, capture_output=True, timeout=120)
    for machine in boxes:
        vg.stream(["vagrant", "box", "remove", "--force", "--all", machine.box], timeout=300, check=False)
    left = leftovers(vg)
    if left:
        raise VmError("seatrial vm down: still in libvirt after the sweep: " + ", ".join(left)
                      + "; remove them with virsh (virsh -c qemu:///system ...)")
    vg.say("down: no seatrial VM, disk or network left in libvirt")


def leftovers(vg: Vagrant) -> list[str]:
    """seatrial's domains, VM disks and network still in libvirt (the box's base image is a cache)."""
    virsh = ["virsh", "-c", vmhost.LIBVIRT_URI]
    domains = vg.capture([*virsh, "list", "--all", "--name"]).split()
    networks = vg.capture([*virsh, "net-list", "--all", "--name"]).split()
    found = [f"domain {d}" for d in domains if d.startswith(DOMAIN_PREFIX)]
    found += [f"volume {v}" for v in _volumes(vg) if v.startswith(DOMAIN_PREFIX)]
    found += [f"network {n}" for n in networks if n == NETWORK]
    return found


def _volumes(vg: Vagrant) -> list[str]:
    listing = vg.capture(["virsh", "-c", vmhost.LIBVIRT_URI, "vol-list", "--pool", POOL])
    # "Name   Path" header, a rule, then one volume per line.
    return [line.split()[0] for line in listing.splitlines()[2:] if line.strip()]


def vm_command(args, out: TextIO, cwd: Path, package: Path, host_probe=vmhost.HostView.probe) -> int:
    """Entry point of `seatrial vm ACTION`; returns the exit code."""
    from seatrial.cli import Exit
    try:
        vagrant_dir = find_vagrant_dir(cwd, package)
        if args.action == "setup":
            return subprocess.run(["bash", str(vagrant_dir / "setup-host.sh")], timeout=1 * HOURS).returncode
        host = host_probe()
        lacks = vmhost.missing(host, for_box=args.action in ("build-box", "up", "run"))
        if lacks:
            print(vmhost.missing_message(lacks), file=sys.stderr)
            return Exit.ENGINE_UNAVAILABLE
        driver = vmhost.libvirt_driver(host, os.environ.get("SEATRIAL_LIBVIRT_DRIVER"))
        vg = Vagrant(vagrant_dir, vagrant_env(dict(os.environ), driver), out)
        machines = [MACHINES[name] for name in (args.machine or ["debian12"])]
        return _dispatch(args, vg, machines, cwd)
    except VmError as err:
        print(err, file=sys.stderr)
        return err.code
    except subprocess.TimeoutExpired as err:
        print(f"seatrial vm: {err}", file=sys.stderr)
        return Exit.FAILED


def _dispatch(args, vg: Vagrant, machines: list[Machine], cwd: Path) -> int:
    from seatrial.cli import Exit
    if args.action == "build-box":
        for machine in machines:
            build_box(vg, machine)
        return Exit.OK
    if args.action == "down":
        down(vg, boxes=machines if args.box else [])
        return Exit.OK
    results_dir = cwd / args.results_dir
    codes = []
    # One machine at a time: a small host runs one emulated VM well, two badly.
    for machine in machines:
        try:
            up(vg, machine)
            if args.action == "run":
                codes.append(run(vg, machine, args.run_args, results_dir))
        except BaseException:
            # Interrupted or failed while bringing up or running: leave nothing behind.
            vg.say("stopping: destroying the VM so that nothing is left behind")
            down(vg)
            raise
        if args.action == "run" and (args.down or len(machines) > 1):
            down(vg)
    if args.action == "run" and len(machines) > 1:
        vg.say(f"all machines done; `seatrial report {args.results_dir}` shows them side by side (engine@host)")
    return max(codes, default=Exit.OK)
