"""Address allocation, Docker's command rules and the kernel double, without root."""

from __future__ import annotations

import pytest

from seatrial.engines.reference import addresses, rootfs
from seatrial.engines.reference.containers import compose_command, merge_env, session_tag
from seatrial.engines.reference.kernel import MS_BIND, MS_RDONLY, RecordingKernel
from seatrial.engines.reference.security import MASKED_PATHS


def test_allocation_skips_the_gateway_and_used_addresses():
    assert addresses.gateway("10.213.5.0/24") == "10.213.5.1"
    assert addresses.allocate("10.213.5.0/24", set()) == "10.213.5.2"
    assert addresses.allocate("10.213.5.0/24", {"10.213.5.2", "10.213.5.3"}) == "10.213.5.4"
    assert addresses.netmask("10.213.5.0/24") == "255.255.255.0"


def test_allocation_reports_exhaustion():
    used = {f"10.213.5.{i}" for i in range(2, 255)}
    with pytest.raises(addresses.AddressesExhausted, match="10.213.5.0/24"):
        addresses.allocate("10.213.5.0/24", used)


def test_subnets_skip_used_ones():
    assert addresses.pick_subnet(set()) == "10.213.0.0/24"
    assert addresses.pick_subnet({"10.213.0.0/24", "10.213.1.0/24"}) == "10.213.2.0/24"


def test_subnets_are_exhausted_with_a_message():
    used = {f"10.213.{i}.0/24" for i in range(256)}
    with pytest.raises(addresses.AddressesExhausted, match="10.213.0.0/16"):
        addresses.pick_subnet(used)


@pytest.mark.parametrize(
    "image, entrypoint, command, expected",
    [
        ({"Cmd": ["sh"]}, None, None, ["sh"]),
        ({"Cmd": ["sh"]}, None, ("echo", "x"), ["echo", "x"]),
        ({"Entrypoint": ["ep"], "Cmd": ["default"]}, None, ("arg",), ["ep", "arg"]),
        ({"Entrypoint": ["ep"], "Cmd": ["default"]}, None, None, ["ep", "default"]),
        ({"Entrypoint": ["ep"], "Cmd": ["default"]}, ("other",), None, ["other"]),
        ({"Entrypoint": ["ep"], "Cmd": ["default"]}, (), ("cmd",), ["cmd"]),
    ],
)
def test_entrypoint_and_cmd_follow_docker(image, entrypoint, command, expected):
    assert compose_command(image, entrypoint, command) == expected


def test_environment_defaults_path_and_lets_overrides_win():
    env = merge_env(["A=1", "B=2"], {"B": "3"})
    assert "A=1" in env and "B=3" in env and any(e.startswith("PATH=") for e in env)


def test_session_tags_are_short_and_stable():
    assert session_tag({"seatrial.session": "abc"}) == session_tag({"seatrial.session": "abc"})
    assert len(session_tag({"seatrial.session": "abc"})) == 4 and session_tag({}) == "0000"


def test_overlay_mount_stacks_layers_over_the_upper_directory():
    kern = RecordingKernel()
    spec = rootfs.RootfsSpec(("/l/top", "/l/bottom"), "/c/upper", "/c/work", "/c/rootfs")
    rootfs.mount_overlay(kern, spec)
    assert kern.calls == [
        ("mount", ("overlay", "/c/rootfs", "overlay", 0, "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work"))
    ]


def test_masked_paths_get_dev_null_or_an_empty_read_only_tmpfs():
    kern = RecordingKernel()
    rootfs._mask_and_protect(kern)  # reads the host's /proc to see what exists; mounts nothing
    for name, args in kern.calls:
        assert name == "mount"
        if args[1] in MASKED_PATHS:
            assert args[0] == "/dev/null" and args[3] == MS_BIND or args[:4] == ("tmpfs", args[1], "tmpfs", MS_RDONLY)
    assert any(args[1] == "/proc/sys" and args[3] & MS_RDONLY for _, args in kern.calls)


def test_the_double_refuses_calls_the_kernel_does_not_have():
    kern = RecordingKernel()
    kern.unshare(0x20000000)
    assert kern.names() == ["unshare"]
    with pytest.raises(AttributeError):
        kern.no_such_call()


def test_routed_subnets_and_default_bridge_names_need_no_root(tmp_path):
    from seatrial.engines.reference.network import default_bridge_name, routed_subnets

    assert all("/" in subnet for subnet in routed_subnets())
    name = default_bridge_name(tmp_path)
    assert name.startswith("strf") and len(name) <= 15 and name != default_bridge_name(tmp_path / "other")
