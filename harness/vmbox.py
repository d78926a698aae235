"""The box cache of `seatrial vm`: pristine Debian boxes built locally, and provisioned boxes.

A pristine box (`seatrial/debian12`) is what vagrant/build-box.sh makes: Debian and nothing of
seatrial. The first `vm up` on it runs vagrant/provision.sh from nothing, which is the proof that
provision.sh installs everything on a fresh machine; without KVM that takes half an hour (dpkg
in an emulated guest). The provisioned disk is then kept as a box of its own
(`seatrial/debian12-provisioned`), keyed by what provisioning depends on: provision.sh,
pyproject.toml and the pristine box. Later VMs boot from it and provision.sh runs again there
(idempotent, seconds). When an input changed since, provision.sh adds what changed on top (minutes:
packages, the venv) and the disk is then kept again as the provisioned box with the new key, so
that only the first VM after a change pays for it (CI ran it on every submission before);
`seatrial vm up --fresh` provisions from nothing again.

Where things are: Vagrant's boxes in VAGRANT_HOME (/var/cache/seatrial/vagrant/boxes), each
box's image uploaded once into libvirt's pool `default` (/var/lib/libvirt/images, named
`<box>_vagrant_box_image_0_box.img`), keys in /var/cache/seatrial/boxes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seatrial.harness import vmhost
from seatrial.harness.vmrunner import HOURS, Vagrant

VAGRANT_HOME = Path(os.environ.get("SEATRIAL_VAGRANT_HOME", "/var/cache/seatrial/vagrant"))
BOX_CACHE = Path("/var/cache/seatrial/boxes")
POOL = "default"
PROVISION_INPUTS = ("vagrant/provision.sh", "pyproject.toml")


@dataclass(frozen=True)
class Machine:
    """A machine of vagrant/Vagrantfile and the boxes it boots."""

    name: str  # the Vagrantfile's machine name; the guest's hostname is seatrial-<name>
    dist: str  # the Debian suite build-box.sh bootstraps
    # The box carries provision.sh's packages, installed at native speed while it is built
    # (dpkg in an emulated guest takes half an hour). Debian 12's stays pristine: its VM is
    # where provision.sh proves it installs everything from nothing.
    is_seeded: bool = False

    @property
    def box(self) -> str:
        return f"seatrial/{self.name}"

    @property
    def provisioned_box(self) -> str:
        return f"seatrial/{self.name}-provisioned"

    @property
    def key_file(self) -> Path:
        return BOX_CACHE / f"{self.name}-provisioned.key"


MACHINES = {m.name: m for m in (Machine("debian12", "bookworm"), Machine("debian13", "trixie", is_seeded=True))}


@dataclass(frozen=True)
class BootPlan:
    """Which box a machine boots, and whether its disk is kept as the provisioned box after."""

    box: str
    is_kept: bool
    how: str


def boot_plan(
    machine: Machine, *, fresh: bool, has_provisioned: bool, is_current: bool, is_keeping: bool = True
) -> BootPlan:
    """The provisioned box when there is one, else (or with --fresh) the pristine box from nothing.
    A disk is kept unless it booted a provisioned box made from today's inputs: a stale one is
    refreshed once by the run that provisions on top of it, not by every later run. Not
    `is_keeping` (SEATRIAL_VM_KEEP_BOX=0): no disk is kept, which saves a halt and a second boot
    (minutes under emulation) in a one-off run."""
    if fresh or not has_provisioned:
        how = "provision.sh from nothing (without KVM about half an hour: dpkg in an emulated guest)"
        return BootPlan(machine.box, is_keeping, how)
    if is_current:
        return BootPlan(machine.provisioned_box, False, "provision.sh again (idempotent)")
    how = "provision.sh on top of a box provisioned from older inputs" + (
        ", then the box kept (--fresh: from nothing)" if is_keeping else " (the box not kept: SEATRIAL_VM_KEEP_BOX=0)"
    )
    return BootPlan(machine.provisioned_box, is_keeping, how)


def box_dir(box: str) -> Path:
    return VAGRANT_HOME / "boxes" / box.replace("/", "-VAGRANTSLASH-")


def base_volume_prefix(box: str) -> str:
    """vagrant-libvirt uploads a box's image into the pool once, under this name prefix."""
    return box.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"


def has_box(box: str) -> bool:
    return any(box_dir(box).glob("*/libvirt/box.img"))


def provision_key(project: Path, machine: Machine) -> str:
    """What a provisioned box depends on: the provisioning inputs and the pristine box it grew from."""
    digest = hashlib.sha256()
    for name in PROVISION_INPUTS:
        digest.update(name.encode() + b"\0" + (project / name).read_bytes() + b"\0")
    for image in sorted(box_dir(machine.box).glob("*/libvirt/box.img")):
        stat = image.stat()
        digest.update(f"{image}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def provisioned_box_ready(project: Path, machine: Machine) -> bool:
    """A provisioned box exists and was made from today's provisioning inputs."""
    try:
        saved = machine.key_file.read_text().strip()
    except OSError:
        return False
    return has_box(machine.provisioned_box) and saved == provision_key(project, machine)


def pool_volumes(vg: Vagrant) -> list[str]:
    listing = vg.capture(["virsh", "-c", vmhost.LIBVIRT_URI, "vol-list", "--pool", POOL])
    # "Name   Path" header, a rule, then one volume per line.
    return [line.split()[0] for line in listing.splitlines()[2:] if line.strip()]


def forget_base_volume(vg: Vagrant, box: str) -> None:
    """Remove a box's image from libvirt's pool: after the box is replaced it is stale, and
    vagrant-libvirt would boot it again rather than upload the new one."""
    for volume in pool_volumes(vg):
        if volume.startswith(base_volume_prefix(box)):
            vg.capture(["virsh", "-c", vmhost.LIBVIRT_URI, "vol-delete", "--pool", POOL, volume])


def add_box(vg: Vagrant, box: str, box_file: Path) -> None:
    """Put a .box into the cache in place of an older one of that name."""
    vg.stream(["vagrant", "box", "add", "--force", "--name", box, str(box_file)], timeout=900)
    forget_base_volume(vg, box)


def build_box_command(vagrant_dir: Path, machine: Machine, box_file: Path) -> list[str]:
    """vagrant/build-box.sh for the machine; a seeded machine's box gets provision.sh's packages."""
    seed = [f"SEATRIAL_BOX_SEED={vagrant_dir / 'provision.sh'}"] if machine.is_seeded else []
    return ["env", *seed, "bash", str(vagrant_dir / "build-box.sh"), machine.dist, str(box_file)]


def build_box(vg: Vagrant, machine: Machine) -> None:
    """Build the machine's pristine box with vagrant/build-box.sh and cache it."""
    BOX_CACHE.mkdir(parents=True, exist_ok=True)
    box_file = BOX_CACHE / f"{machine.dist}.box"
    vg.say(f"building the box {machine.box} (Debian {machine.dist}; about 2.5 minutes)")
    try:
        vg.stream(build_box_command(vg.dir, machine, box_file), timeout=1 * HOURS)
        add_box(vg, machine.box, box_file)
    finally:
        box_file.unlink(missing_ok=True)  # the unpacked box in VAGRANT_HOME is the cache
    machine.key_file.unlink(missing_ok=True)  # a provisioned box of the old one is stale
    vg.say(f"box {machine.box} cached in {box_dir(machine.box)}")


@contextlib.contextmanager
def packed_provisioned(vg: Vagrant, machine: Machine, disk: Path) -> Iterator[Path]:
    """A halted VM's disk packed as a box file (the disk flattened into one qcow2 image, with the
    pristine box's kernel, initrd and Vagrantfile beside it), removed after the block."""
    pristine = next(box_dir(machine.box).glob("*/libvirt"))
    BOX_CACHE.mkdir(parents=True, exist_ok=True)
    vg.say(f"packing the provisioned disk as the box {machine.provisioned_box}")
    with tempfile.TemporaryDirectory(dir=BOX_CACHE, prefix=".provisioned-") as tmp:
        work = Path(tmp)
        vg.stream(["qemu-img", "convert", "-O", "qcow2", str(disk), str(work / "box.img")], timeout=1 * HOURS)
        for name in ("vmlinuz", "initrd.img", "Vagrantfile", "metadata.json"):
            shutil.copy(pristine / name, work / name)
        box_file = work / "provisioned.box"
        members = ["metadata.json", "Vagrantfile", "box.img", "vmlinuz", "initrd.img"]
        vg.stream(["tar", "-C", str(work), "-cf", str(box_file), *members], timeout=1 * HOURS)
        yield box_file


def add_provisioned(vg: Vagrant, machine: Machine, box_file: Path, project: Path) -> None:
    """Cache a packed provisioned box with the key of today's provisioning inputs. A VM whose disk
    is an overlay of the old provisioned box must be gone first: its base image leaves the pool."""
    add_box(vg, machine.provisioned_box, box_file)
    machine.key_file.write_text(provision_key(project, machine) + "\n")
    vg.say(
        f"box {machine.provisioned_box} cached; VMs boot from it, and provision.sh has nothing to add, "
        "until provision.sh, pyproject.toml or the pristine box change"
    )


def remove_boxes(vg: Vagrant, machine: Machine) -> None:
    """Empty the cache of a machine's boxes: Vagrant's copies, libvirt's copies, the key."""
    for box in (machine.box, machine.provisioned_box):
        vg.stream(["vagrant", "box", "remove", "--force", "--all", box], timeout=300, check=False)
        forget_base_volume(vg, box)
    machine.key_file.unlink(missing_ok=True)
