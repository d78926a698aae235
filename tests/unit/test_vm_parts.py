"""The pure parts of `seatrial vm`: what a host lacks and how that is said, KVM or emulation,
the commands sent to Vagrant, virsh and the guest, and the results copied back out of a VM."""

from __future__ import annotations

import io
import shlex
import tarfile
from pathlib import Path

import pytest

from seatrial.harness import cli, vm, vmbox, vmguest, vmhost, vmlanes, vmnames, vmresults, vmrunner

READY = vmhost.HostView(
    tools=frozenset(vmhost.UP_TOOLS) | frozenset(vmhost.BOX_TOOLS),
    has_vagrant_libvirt=True,
    is_libvirtd_up=True,
    is_root=True,
)


def test_ready_host_lacks_nothing():
    assert vmhost.missing(READY, for_box=True) == []


def test_bare_host_lacks_everything_in_one_message_that_says_how_to_get_it():
    bare = vmhost.HostView(tools=frozenset(), has_vagrant_libvirt=False, is_libvirtd_up=False, is_root=True)
    message = vmhost.missing_message(vmhost.missing(bare, for_box=True))
    for needed in (
        "vagrant (Debian package vagrant)",
        "virsh (Debian package libvirt-clients)",
        "qemu-system-x86_64 (Debian package qemu-system-x86)",
        "debootstrap (Debian package debootstrap)",
        "qemu-img (Debian package qemu-utils)",
    ):
        assert needed in message
    assert message.rstrip().endswith(vmhost.SETUP_HINT)
    assert "seatrial vm setup" in message


def test_plugin_and_daemon_are_named_when_the_tools_are_there():
    host = vmhost.HostView(tools=READY.tools, has_vagrant_libvirt=False, is_libvirtd_up=False, is_root=True)
    lacks = vmhost.missing(host)
    assert any("vagrant-libvirt" in item for item in lacks)
    assert any("libvirtd does not answer on qemu:///system" in item for item in lacks)


def test_box_tools_are_needed_only_to_build_a_box():
    host = vmhost.HostView(
        tools=frozenset(vmhost.UP_TOOLS), has_vagrant_libvirt=True, is_libvirtd_up=True, is_root=True
    )
    assert vmhost.missing(host) == []
    assert "debootstrap" in " ".join(vmhost.missing(host, for_box=True))


def test_non_root_is_told_to_run_as_root():
    host = vmhost.HostView(tools=READY.tools, has_vagrant_libvirt=True, is_libvirtd_up=True, is_root=False)
    assert vmhost.missing(host)[0].startswith("root:")


@pytest.mark.parametrize(
    "flags, can_open, driver",
    [
        ({"vmx", "sse2"}, True, "kvm"),
        ({"svm"}, True, "kvm"),
        ({"sse2"}, True, "qemu"),  # /dev/kvm without vmx/svm: a KVM guest would spin
        ({"vmx"}, False, "qemu"),  # no access to /dev/kvm
    ],
)
def test_kvm_only_where_it_works(flags, can_open, driver):
    host = vmhost.HostView(
        tools=READY.tools,
        has_vagrant_libvirt=True,
        is_libvirtd_up=True,
        is_root=True,
        cpu_flags=frozenset(flags),
        can_open_kvm=can_open,
    )
    assert vmhost.libvirt_driver(host) == driver
    assert vmhost.libvirt_driver(host, "qemu") == "qemu"


def test_remote_command_quotes_every_run_argument():
    cmd = vmguest.remote_run_command(
        "20261130-1-debian12-abc", ["-k", "build or network", "--engine", "docker; rm -rf /"]
    )
    assert cmd.startswith("cd /seatrial && ")
    argv = shlex.split(cmd.split(" && ", 1)[1])
    assert argv == [
        "sudo",
        "-n",
        "/usr/local/bin/seatrial",
        "run",
        "--results-dir",
        "/seatrial/results",
        "--run-id",
        "20261130-1-debian12-abc",
        "-k",
        "build or network",
        "--engine",
        "docker; rm -rf /",
    ]


def test_run_id_names_time_and_machine():
    run_id = vmguest.new_run_id(vm.MACHINES["debian13"], 1796036400.0)
    assert run_id.startswith("20261130-") and "-debian13-" in run_id
    assert run_id != vmguest.new_run_id(vm.MACHINES["debian13"], 1796036400.0)


NAMES = vmnames.VmNames.for_project(Path("/work/checkout"))


def test_vagrant_env_uses_the_box_cache_no_run_provisioner_and_the_checkouts_names():
    env = vm.vagrant_env({"PATH": "/usr/bin"}, "qemu", NAMES)
    assert env["VAGRANT_HOME"] == str(vmbox.VAGRANT_HOME)
    assert env["SEATRIAL_LIBVIRT_DRIVER"] == "qemu"
    assert env["SEATRIAL_VM_RUN"] == "0"
    assert env["PATH"] == "/usr/bin"
    assert (env["SEATRIAL_VM_PREFIX"], env["SEATRIAL_VM_NETWORK"]) == (NAMES.prefix, NAMES.network)


def test_two_checkouts_never_share_a_domain_prefix_network_or_subnet():
    other = vmnames.VmNames.for_project(Path("/work/other-checkout"))
    assert vmnames.VmNames.for_project(Path("/work/checkout")) == NAMES  # stable
    assert NAMES.prefix != other.prefix and NAMES.network != other.network
    assert NAMES.subnet != other.subnet
    for names in (NAMES, other):
        # Not the fixed names of earlier versions, whose `vm down` swept every seatrial-vm-* domain.
        assert not names.prefix.startswith("seatrial-vm-") and names.network != "seatrial-vagrant"
        assert not names.is_ours("seatrial-VAGRANTSLASH-debian12_vagrant_box_image_0_box.img")
        assert not vmnames.clashing_routes(
            names.subnet, ["192.168.127.0/24 dev virbr1 proto kernel", "192.168.122.0/24 dev virbr0"]
        )


def test_names_set_in_the_environment_win():
    names = NAMES.overridden({"SEATRIAL_VM_SUBNET": "10.99.0.0/24", "SEATRIAL_VM_PREFIX": ""})
    assert names.subnet == "10.99.0.0/24" and names.prefix == NAMES.prefix


def test_a_subnet_already_routed_on_the_host_is_a_clash():
    routes = [
        "default via 10.0.0.1 dev eth0",
        "10.0.0.0/8 dev eth0 proto kernel scope link",
        "192.168.142.0/24 dev virbr3 proto kernel",
    ]
    assert vmnames.clashing_routes("192.168.142.0/24", routes) == ["192.168.142.0/24 dev virbr3 proto kernel"]
    assert vmnames.clashing_routes("10.1.2.0/24", routes) == ["10.0.0.0/8 dev eth0 proto kernel scope link"]
    assert vmnames.clashing_routes("192.168.143.0/24", routes) == []


DEBIAN12, DEBIAN13 = vmbox.MACHINES["debian12"], vmbox.MACHINES["debian13"]


def test_sweep_removes_only_this_checkouts_domains_disks_and_network():
    mine, theirs = NAMES.prefix + "debian12", "seatrial-vm-debian12"  # another checkout's VM
    cmds = vm.sweep_commands(
        NAMES,
        [DEBIAN12, DEBIAN13],
        domains=[mine, theirs, "someone-elses-vm"],
        volumes=[
            mine + ".img",
            theirs + ".img",
            "seatrial-VAGRANTSLASH-debian12_vagrant_box_image_0_box.img",
            "other.qcow2",
        ],
        networks=["default", "seatrial-vagrant", NAMES.network],
    )
    flat = [" ".join(c[3:]) for c in cmds]
    assert flat == [
        f"destroy {mine}",
        f"undefine {mine}",
        f"vol-delete --pool default {mine}.img",
        f"net-destroy {NAMES.network}",
        f"net-undefine {NAMES.network}",
    ]


def test_sweep_of_one_machine_keeps_the_other_machine_and_their_network():
    d12, d13 = NAMES.prefix + "debian12", NAMES.prefix + "debian13"
    cmds = vm.sweep_commands(
        NAMES, [DEBIAN12], domains=[d12, d13], volumes=[d12 + ".img", d13 + ".img"], networks=[NAMES.network]
    )
    assert [" ".join(c[3:]) for c in cmds] == [
        f"destroy {d12}",
        f"undefine {d12}",
        f"vol-delete --pool default {d12}.img",
    ]


def test_leftovers_name_what_the_sweep_would_still_remove():
    d12 = NAMES.prefix + "debian12"

    class Libvirt:
        def capture(self, argv, timeout=120):
            if "vol-list" in argv:
                return f" Name  Path\n------\n {d12}.img  /var/lib/libvirt/images/{d12}.img\n"
            return f"{d12}\n" if "list" in argv else f"default\n{NAMES.network}\n"

    assert vm.leftovers(Libvirt(), NAMES, [DEBIAN12]) == [
        f"domain {d12}",
        f"volume {d12}.img",
        f"network {NAMES.network}",
    ]
    assert vm.leftovers(Libvirt(), NAMES, [DEBIAN13]) == []  # debian12's are not debian13's leftovers


def test_box_names_and_the_variable_the_vagrantfile_reads():
    machine = vmbox.MACHINES["debian12"]
    assert (machine.box, machine.provisioned_box) == ("seatrial/debian12", "seatrial/debian12-provisioned")
    assert vmbox.box_dir(machine.box) == vmbox.VAGRANT_HOME / "boxes" / "seatrial-VAGRANTSLASH-debian12"
    assert vmbox.base_volume_prefix(machine.box) == "seatrial-VAGRANTSLASH-debian12_vagrant_box_image_"
    vagrantfile = (Path(__file__).parents[2] / "vagrant" / "Vagrantfile").read_text()
    assert 'ENV["SEATRIAL_BOX_#{name.upcase}"]' in vagrantfile and vm.box_variable(machine) == "SEATRIAL_BOX_DEBIAN12"
    for variable in NAMES.env():
        assert f'ENV["{variable}"]' in vagrantfile


def _project(tmp_path: Path, provision: str) -> Path:
    (tmp_path / "vagrant").mkdir(parents=True, exist_ok=True)
    (tmp_path / "vagrant" / "provision.sh").write_text(provision)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    return tmp_path


def test_provisioned_box_is_stale_once_provision_sh_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(vmbox, "VAGRANT_HOME", tmp_path / "home")
    monkeypatch.setattr(vmbox, "BOX_CACHE", tmp_path / "cache")
    machine = vmbox.MACHINES["debian12"]
    for box in (machine.box, machine.provisioned_box):
        image = vmbox.box_dir(box) / "0" / "libvirt" / "box.img"
        image.parent.mkdir(parents=True)
        image.write_bytes(b"qcow2")
    project = _project(tmp_path / "p", "apt-get install docker.io\n")
    assert not vmbox.provisioned_box_ready(project, machine)  # no key saved yet
    machine.key_file.parent.mkdir(parents=True)
    machine.key_file.write_text(vmbox.provision_key(project, machine) + "\n")
    assert vmbox.provisioned_box_ready(project, machine)
    _project(project, "apt-get install docker.io podman\n")
    assert not vmbox.provisioned_box_ready(project, machine)


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[KProgress: 42%\x1b[KProgress: 43%", None),
        ("==> debian12: Starting domain.\n", "==> debian12: Starting domain."),
        ("\rProgress: 1%\r==> debian12: Creating image\n", "==> debian12: Creating image"),
        ("   \n", None),
    ],
)
def test_vagrant_output_loses_its_progress_counter(raw, shown):
    assert vmrunner.clean_line(raw) == shown


def test_missing_vagrantfile_is_a_clear_usage_error(tmp_path):
    with pytest.raises(vmrunner.VmError, match="vagrant/Vagrantfile not found") as err:
        vm.find_vagrant_dir(tmp_path, tmp_path / "pkg")
    assert err.value.code == 2


def test_vm_command_on_a_bare_host_exits_3_with_the_setup_hint(capsys):
    bare = vmhost.HostView(tools=frozenset(), has_vagrant_libvirt=False, is_libvirtd_up=False, is_root=True)
    args = cli.build_parser().parse_args(["vm", "up"])
    code = vm.vm_command(args, io.StringIO(), Path.cwd(), cli.PACKAGE, host_probe=lambda: bare)
    assert code == cli.Exit.ENGINE_UNAVAILABLE
    err = capsys.readouterr().err
    assert "this host cannot run the VM yet" in err and "seatrial vm setup" in err
    assert "Traceback" not in err


def test_vm_run_passes_everything_after_double_dash_to_seatrial_run():
    args = cli.build_parser().parse_args(
        ["vm", "run", "--machine", "debian13", "--down", "--fresh", "--", "-k", "build", "-x"]
    )
    assert args.machine == ["debian13"] and args.down and args.fresh
    assert args.run_args == ["-k", "build", "-x"]


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buf.seek(0)
    return buf


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_results_come_back_under_the_run_folder(tmp_path):
    events = b'{"type": "run_start", "host": {"hostname": "seatrial-debian12"}}\n'
    folder = tarfile.TarInfo("run1")
    folder.type = tarfile.DIRTYPE
    stream = _tar([(folder, b""), _file("run1/events.jsonl", events)])
    written = vmresults.unpack_run(stream, "run1", tmp_path)
    assert written == [tmp_path / "run1" / "events.jsonl"]
    assert (tmp_path / "run1" / "events.jsonl").read_bytes() == events


@pytest.mark.parametrize(
    "name, kind, why",
    [
        ("../escape", tarfile.REGTYPE, "'..'"),
        ("/etc/passwd", tarfile.REGTYPE, "absolute"),
        ("run1/../../escape", tarfile.REGTYPE, "'..'"),
        ("other-run/events.jsonl", tarfile.REGTYPE, "outside the run's folder"),
        ("run1/link", tarfile.SYMTYPE, "not a regular file"),
        ("run1/dev", tarfile.CHRTYPE, "not a regular file"),
    ],
)
def test_results_from_the_guest_cannot_write_outside_their_folder(tmp_path, name, kind, why):
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    stream = _tar([(info, b"")])
    target = tmp_path / "results"
    with pytest.raises(vmresults.UnsafeArchive, match=why):
        vmresults.unpack_run(stream, "run1", target)
    assert not (tmp_path / "escape").exists()
    assert not any(target.rglob("*")) if target.exists() else True


class _Listing:
    """Stands in for the Vagrant runner where only captured output matters."""

    def __init__(self, stdout: str):
        self.stdout = stdout

    def capture(self, argv, timeout=120):
        return self.stdout


def test_machine_state_is_read_from_vagrants_machine_readable_status():
    status = (
        "1796038925,debian12,metadata,provider,libvirt\n"
        "1796038925,debian12,provider-name,libvirt\n"
        "1796038925,debian12,state,running\n"
        "1796038925,debian13,state,not_created\n"
    )
    assert vm.machine_state(_Listing(status), vmbox.MACHINES["debian12"]) == "running"
    assert vm.machine_state(_Listing(status), vmbox.MACHINES["debian13"]) == "not_created"
    assert vm.machine_state(_Listing(""), vmbox.MACHINES["debian12"]) == "unknown"


def test_pool_volumes_are_read_from_virsh_vol_list():
    listing = (
        " Name                       Path\n"
        "-------------------------------------------\n"
        " seatrial-vm-debian12.img   /var/lib/libvirt/images/seatrial-vm-debian12.img\n\n"
    )
    assert vmbox.pool_volumes(_Listing(listing)) == ["seatrial-vm-debian12.img"]


def test_lanes_split_the_engines_and_keep_the_other_run_arguments():
    lanes = vmlanes.parse_lanes(["docker,docker-buildkit", " podman , podman-rootless,reference"], ["-k", "x"])
    assert [lane.name for lane in lanes] == ["l1", "l2"]
    assert lanes[0].run_args(["-k", "x"]) == ["--engine", "docker", "--engine", "docker-buildkit", "-k", "x"]
    assert lanes[1].engines == ("podman", "podman-rootless", "reference")
    assert vmlanes.parse_lanes([], ["-k", "x"]) == []


@pytest.mark.parametrize(
    "specs, run_args, why",
    [
        (["docker", "docker,podman"], [], "docker is in more than one --lane"),
        ([","], [], "names no engine"),
        (["docker"], ["--engine", "podman"], "--lane and --engine"),
    ],
)
def test_lanes_that_overlap_or_name_nothing_are_usage_errors(specs, run_args, why):
    with pytest.raises(vmrunner.VmError, match=why) as err:
        vmlanes.parse_lanes(specs, run_args)
    assert err.value.code == 2


def test_lanes_run_at_once_and_each_keeps_its_exit_code_and_label():
    said: list[str] = []
    script = "import sys, time; time.sleep(1.0); print(sys.argv[1]); sys.exit(int(sys.argv[2]))"
    import sys
    import time

    started = time.monotonic()
    codes = vmlanes.stream_all(
        [[sys.executable, "-c", script, "one", "0"], [sys.executable, "-c", script, "two", "3"]],
        ["l1", "l2"],
        said.append,
        timeout=30,
    )
    assert codes == [0, 3]
    assert sorted(said) == ["[l1] one", "[l2] two"]
    assert time.monotonic() - started < 1.9  # side by side: one after the other takes 2 s at least


def test_vm_run_takes_lanes():
    args = cli.build_parser().parse_args(["vm", "run", "--lane", "docker", "--lane", "podman", "--", "-k", "x"])
    assert args.lane == ["docker", "podman"] and args.run_args == ["-k", "x"]


def test_only_the_debian13_box_is_seeded_with_provision_sh_packages():
    d12 = vmbox.build_box_command(Path("/p/vagrant"), DEBIAN12, Path("/c/bookworm.box"))
    d13 = vmbox.build_box_command(Path("/p/vagrant"), DEBIAN13, Path("/c/trixie.box"))
    assert d12 == ["env", "bash", "/p/vagrant/build-box.sh", "bookworm", "/c/bookworm.box"]
    assert d13 == [
        "env",
        "SEATRIAL_BOX_SEED=/p/vagrant/provision.sh",
        "bash",
        "/p/vagrant/build-box.sh",
        "trixie",
        "/c/trixie.box",
    ]


@pytest.mark.parametrize(
    "codename, has, lacks",
    [
        (
            "bookworm",
            ["golang-github-containernetworking-plugin-dnsname", "docker.io", "podman"],
            ["docker-cli", "netavark", "docker-buildx"],
        ),
        (
            "trixie",
            ["docker-cli", "netavark", "aardvark-dns", "nftables", "passt", "docker-buildx", "docker.io", "podman"],
            ["golang-github-containernetworking-plugin-dnsname"],
        ),
    ],
)
def test_provision_sh_lists_each_releases_packages_without_installing(tmp_path, codename, has, lacks):
    import subprocess

    os_release = tmp_path / "os-release"
    os_release.write_text(f"ID=debian\nVERSION_CODENAME={codename}\n")
    script = Path(__file__).parents[2] / "vagrant" / "provision.sh"
    done = subprocess.run(
        ["bash", str(script), "--print-packages"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SEATRIAL_OS_RELEASE": str(os_release)},
    )
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split()
    assert all(p in listed for p in has) and not any(p in listed for p in lacks)


def test_vm_takes_sigint_even_when_started_with_it_ignored():
    import subprocess
    import sys

    code = (
        "import signal, subprocess, sys\n"
        "from seatrial.harness import vm\n"
        "vm.take_interrupts()\n"
        "child = subprocess.run([sys.executable, '-c', 'import signal; print(signal.getsignal(signal.SIGINT))'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, child)\n"
    )
    # As a shell starts a background job: SIGINT ignored, and children inherit that.
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: __import__("signal").signal(2, __import__("signal").SIG_IGN),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "<built-in", "function", "default_int_handler>"]


def test_under_emulation_the_guest_run_allows_engines_a_slow_info():
    cmd = vmguest.remote_run_command("r1", ["-k", "x"], vmguest.guest_env("qemu"))
    argv = shlex.split(cmd.split(" && ", 1)[1])
    assert argv[:4] == ["sudo", "-n", "env", "SEATRIAL_INFO_TIMEOUT=120"]
    assert argv[4:6] == ["/usr/local/bin/seatrial", "run"]
    assert vmguest.guest_env("kvm") == {}


@pytest.mark.parametrize(
    "environ, seconds",
    [({}, 20.0), ({"SEATRIAL_INFO_TIMEOUT": "120"}, 120.0), ({"SEATRIAL_INFO_TIMEOUT": "soon"}, 20.0)],
)
def test_engine_info_timeout_follows_the_environment(environ, seconds):
    from seatrial.engines.client import info_timeout

    assert info_timeout(environ) == seconds


@pytest.mark.parametrize(
    "fresh, has_provisioned, is_current, box, is_kept",
    [
        (False, False, False, "seatrial/debian12", True),  # first VM: from nothing, kept
        (False, True, True, "seatrial/debian12-provisioned", False),  # current: nothing to keep
        (False, True, False, "seatrial/debian12-provisioned", True),  # stale: on top, then refreshed once
        (True, True, True, "seatrial/debian12", True),  # --fresh: from nothing again, kept
    ],
)
def test_a_stale_provisioned_box_is_booted_and_refreshed_once(fresh, has_provisioned, is_current, box, is_kept):
    plan = vmbox.boot_plan(
        vmbox.MACHINES["debian12"], fresh=fresh, has_provisioned=has_provisioned, is_current=is_current
    )
    assert (plan.box, plan.is_kept) == (box, is_kept)
    kept = vmbox.boot_plan(
        vmbox.MACHINES["debian12"],
        fresh=fresh,
        has_provisioned=has_provisioned,
        is_current=is_current,
        is_keeping=False,
    )
    assert (kept.box, kept.is_kept) == (box, False)  # SEATRIAL_VM_KEEP_BOX=0: the same box, nothing kept
