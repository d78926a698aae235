"""`seatrial vm`: the scenario library inside real Vagrant VMs (libvirt provider).

    setup      vagrant/setup-host.sh: vagrant, vagrant-libvirt, libvirt, QEMU, debootstrap
    build-box  vagrant/build-box.sh makes a Debian box locally; it is cached (see vmbox)
    up         the box built if missing; `vagrant up` (KVM, or QEMU emulation without it) with
               vagrant/provision.sh, from nothing on a pristine box (then kept as a provisioned
               box, see vmbox) or again, idempotent, on the provisioned box
    run        up, then `seatrial run` inside on every engine, results copied back under results/
    down       `vagrant destroy`, then a sweep of what a killed Vagrant can leave in libvirt

Vagrant keeps its boxes in VAGRANT_HOME=/var/cache/seatrial/vagrant (not ~/.vagrant.d: /root
is closed to the libvirt-qemu user, which must read the box's kernel and initrd)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from seatrial.harness import vmbox, vmhost
from seatrial.harness.vmbox import MACHINES, Machine
from seatrial.harness.vmguest import guest_ssh, run_inside
from seatrial.harness.vmlanes import parse_lanes
from seatrial.harness.vmnames import VmNames, clashing_routes
from seatrial.harness.vmrunner import HOURS, Vagrant, VmError

VIRSH = ["virsh", "-c", vmhost.LIBVIRT_URI]
INSECURE_KEY = "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub"


def find_vagrant_dir(cwd: Path, package: Path) -> Path:
    """vagrant/ of the checkout: the current folder's, else the editable install's."""
    for project in (cwd, package):
        if (project / "vagrant" / "Vagrantfile").is_file():
            return project / "vagrant"
    raise VmError(
        "seatrial vm: vagrant/Vagrantfile not found in the current folder or beside the installed "
        "package; run it from a checkout of the project",
        2,
    )


def vagrant_env(base: dict[str, str], driver: str, names: VmNames) -> dict[str, str]:
    """Vagrant's environment: our box cache, the libvirt driver, this checkout's names in libvirt,
    and no `run` provisioner (the suite is run over ssh so that its exit code and results come back)."""
    return {
        **base,
        "VAGRANT_HOME": str(vmbox.VAGRANT_HOME),
        "SEATRIAL_LIBVIRT_DRIVER": driver,
        "SEATRIAL_VM_RUN": "0",
        "VAGRANT_DEFAULT_PROVIDER": "libvirt",
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        **names.env(),
    }  # no version check over the network


def box_variable(machine: Machine) -> str:
    """The Vagrantfile reads the machine's box from this variable (SEATRIAL_BOX_DEBIAN12)."""
    return f"SEATRIAL_BOX_{machine.name.upper()}"


def sweep_commands(
    names: VmNames, machines: list[Machine], domains: list[str], volumes: list[str], networks: list[str]
) -> list[list[str]]:
    """virsh calls that remove what these machines of this checkout left in libvirt: domains,
    their disks, and the management network once no other domain of this checkout is left on it.
    Box images in the pool (named after the box) are a cache and stay; other checkouts' VMs are
    theirs."""
    mine = [names.prefix + m.name for m in machines]
    cmds = []
    for d in (d for d in domains if d in mine):
        cmds += [[*VIRSH, "destroy", d], [*VIRSH, "undefine", d]]
    for v in (v for v in volumes if any(v.startswith((d + ".", d + "-")) for d in mine)):
        cmds.append([*VIRSH, "vol-delete", "--pool", vmbox.POOL, v])
    others = [d for d in domains if names.is_ours(d) and d not in mine]
    if names.network in networks and not others:
        cmds += [[*VIRSH, "net-destroy", names.network], [*VIRSH, "net-undefine", names.network]]
    return cmds


def check_subnet(vg: Vagrant, names: VmNames) -> None:
    """Before this checkout's management network exists: its range must be free on the host
    (another network there would make libvirt refuse it, or take the host's route)."""
    if names.network in vg.capture([*VIRSH, "net-list", "--all", "--name"]).split():
        return
    clashes = clashing_routes(names.subnet, vg.capture(["ip", "-o", "-4", "route", "show"]).splitlines())
    if clashes:
        raise VmError(
            f"seatrial vm: the management network's range {names.subnet} is in use on this host "
            f"({'; '.join(clashes)}); set SEATRIAL_VM_SUBNET to a free /24",
            2,
        )


def machine_state(vg: Vagrant, machine: Machine) -> str:
    """Vagrant's state of the machine: running, shutoff, not_created, ..."""
    for line in vg.capture(["vagrant", "status", "--machine-readable", machine.name]).splitlines():
        fields = line.split(",")
        if len(fields) >= 4 and fields[1] == machine.name and fields[2] == "state":
            return fields[3]
    return "unknown"


def up(vg: Vagrant, machine: Machine, project: Path, *, fresh: bool = False) -> bool:
    """Boot the machine and provision it (boot_plan says from which box); keep the provisioned
    disk as a box when the plan says so. False when it was running already (then the project in
    it may be older than here)."""
    if machine_state(vg, machine) == "running":
        vg.say(f"{machine.name} is running; `seatrial vm down` first to start from its box again")
        return False
    if not vmbox.has_box(machine.box):
        vmbox.build_box(vg, machine)
    has_provisioned = vmbox.has_box(machine.provisioned_box)
    plan = vmbox.boot_plan(
        machine,
        fresh=fresh,
        has_provisioned=has_provisioned,
        is_current=has_provisioned and vmbox.provisioned_box_ready(project, machine),
        is_keeping=vg.env.get("SEATRIAL_VM_KEEP_BOX", "1") != "0",
    )
    vg.env[box_variable(machine)] = plan.box
    vg.say(f"vagrant up {machine.name} on {plan.box} ({vg.env['SEATRIAL_LIBVIRT_DRIVER']}); {plan.how}")
    vg.stream(
        ["vagrant", "up", machine.name, "--provider", "libvirt", "--provision-with", "provision"], timeout=3 * HOURS
    )
    if plan.is_kept:
        keep_provisioned(vg, machine, project)
    return True


def keep_provisioned(vg: Vagrant, machine: Machine, project: Path) -> None:
    """Save the provisioned disk as the machine's provisioned box (vmbox), then boot a VM from it.
    The guest gets Vagrant's insecure key back first: Vagrant replaced it at the first boot, and a
    VM made from the box must let Vagrant in the same way as one made from the pristine box."""
    keys = sorted(glob.glob(INSECURE_KEY))
    if not keys:
        raise VmError(f"Vagrant's insecure public key not found ({INSECURE_KEY}); reinstall vagrant")
    with guest_ssh(vg, machine) as ssh:
        done = subprocess.run(
            [*ssh, "sudo -n tee -a /home/vagrant/.ssh/authorized_keys >/dev/null"],
            input=Path(keys[0]).read_bytes(),
            capture_output=True,
            timeout=300,
        )
    if done.returncode != 0:
        raise VmError(
            f"giving {machine.name} Vagrant's insecure key back failed: {done.stderr.decode(errors='replace').strip()}"
        )
    vg.stream(["vagrant", "halt", machine.name], timeout=900)
    # Vagrant's record of the machine holds the domain's UUID, whatever the domain is named.
    domain = (vg.dir / ".vagrant" / "machines" / machine.name / "libvirt" / "id").read_text().strip()
    disks = [
        line.split()[1]
        for line in vg.capture([*VIRSH, "domblklist", domain]).splitlines()[2:]
        if len(line.split()) == 2 and line.split()[0] == "vda"
    ]
    if not disks:
        raise VmError(f"no disk vda in libvirt's domain {domain}; cannot keep the provisioned disk")
    with vmbox.packed_provisioned(vg, machine, Path(disks[0])) as box_file:
        # The halted VM's disk is an overlay of the box it booted, which may be the provisioned
        # box about to be replaced (its image leaves libvirt's pool): the VM goes first.
        vg.stream(["vagrant", "destroy", "-f", machine.name], timeout=900)
        vmbox.add_provisioned(vg, machine, box_file, project)
    vg.env[box_variable(machine)] = machine.provisioned_box
    vg.stream(
        ["vagrant", "up", machine.name, "--provider", "libvirt", "--provision-with", "provision"], timeout=1 * HOURS
    )


def down(vg: Vagrant, names: VmNames, machines: list[Machine], *, boxes: Sequence[Machine] = ()) -> None:
    """Destroy these machines of this checkout, then remove what a killed Vagrant can leave of
    them in libvirt (and the management network with the last of them); with `boxes`, those
    machines' cached boxes too."""
    vg.say(f"vagrant destroy -f {' '.join(m.name for m in machines)}")
    vg.stream(["vagrant", "destroy", "-f", *(m.name for m in machines)], timeout=900, check=False)
    domains = vg.capture([*VIRSH, "list", "--all", "--name"]).split()
    networks = vg.capture([*VIRSH, "net-list", "--all", "--name"]).split()
    for argv in sweep_commands(names, machines, domains, vmbox.pool_volumes(vg), networks):
        vg.say(" ".join(argv[3:]))
        # destroy fails on a domain that is shut off, net-destroy on an inactive network: fine,
        # what matters is checked by leftovers() below.
        subprocess.run(argv, capture_output=True, timeout=120)
    for machine in boxes:
        vmbox.remove_boxes(vg, machine)
    left = leftovers(vg, names, machines)
    if left:
        raise VmError(
            "seatrial vm down: still in libvirt after the sweep: "
            + ", ".join(left)
            + "; remove them with virsh -c qemu:///system (destroy, undefine, vol-delete, net-undefine)"
        )
    vg.say(
        f"down: no VM, VM disk or network of {', '.join(m.name for m in machines)} left in libvirt "
        "(cached boxes stay: seatrial vm down --box)"
    )


def leftovers(vg: Vagrant, names: VmNames, machines: list[Machine]) -> list[str]:
    """What these machines of this checkout still have in libvirt: domains, VM disks, and the
    management network once none of this checkout's domains is left (box images are a cache)."""
    domains = vg.capture([*VIRSH, "list", "--all", "--name"]).split()
    networks = vg.capture([*VIRSH, "net-list", "--all", "--name"]).split()
    kinds = {"undefine": "domain", "vol-delete": "volume", "net-undefine": "network"}
    return [
        f"{kinds[argv[3]]} {argv[-1]}"
        for argv in sweep_commands(names, machines, domains, vmbox.pool_volumes(vg), networks)
        if argv[3] in kinds
    ]


def vm_command(args, out: TextIO, cwd: Path, package: Path, host_probe=vmhost.HostView.probe) -> int:
    """Entry point of `seatrial vm ACTION`; returns the exit code."""
    from seatrial.harness.cli import Exit

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
        names = VmNames.for_project(vagrant_dir.parent).overridden(os.environ)
        vg = Vagrant(vagrant_dir, vagrant_env(dict(os.environ), driver, names), out)
        default = list(MACHINES) if args.action == "down" else ["debian12"]
        machines = [MACHINES[name] for name in (args.machine or default)]
        previous = take_interrupts()
        try:
            return _dispatch(args, vg, names, machines, cwd, vagrant_dir.parent)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    except VmError as err:
        print(err, file=sys.stderr)
        return err.code
    except subprocess.TimeoutExpired as err:
        print(f"seatrial vm: {err}", file=sys.stderr)
        return Exit.FAILED


def take_interrupts() -> dict[int, Any]:
    """SIGINT and SIGTERM (a CI job cancelled) both tear down, as Ctrl-C does; the handlers they
    had, to put back. SIGINT is taken even where it came ignored: a shell starts background jobs
    so, and Vagrant started from here would inherit that and never clean up a half-made domain."""
    return {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _raise_interrupt),
    }


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _dispatch(args, vg: Vagrant, names: VmNames, machines: list[Machine], cwd: Path, project: Path) -> int:
    from seatrial.harness.cli import Exit

    if args.action == "build-box":
        for machine in machines:
            vmbox.build_box(vg, machine)
        return Exit.OK
    if args.action == "down":
        down(vg, names, machines, boxes=machines if args.box else [])
        return Exit.OK
    results_dir = cwd / args.results_dir if args.action == "run" else cwd
    lanes = parse_lanes(args.lane, args.run_args) if args.action == "run" else []
    codes = []
    # One machine at a time: a small host runs one emulated VM well, two badly.
    for machine in machines:
        try:
            check_subnet(vg, names)
            booted = up(vg, machine, project, fresh=args.fresh)
            if args.action == "run":
                codes.append(run_inside(vg, machine, args.run_args, results_dir, sync=not booted, lanes=lanes))
        except BaseException:
            # Interrupted or failed while bringing up or running: leave nothing behind.
            vg.say("stopping: destroying the VM so that nothing is left behind")
            down(vg, names, [machine])
            raise
        if args.action == "run" and (args.down or len(machines) > 1):
            down(vg, names, [machine])
    if args.action == "run" and len(machines) > 1:
        vg.say(f"all machines done; `seatrial report {args.results_dir}` shows them side by side (engine@host)")
    return max(codes, default=Exit.OK)
