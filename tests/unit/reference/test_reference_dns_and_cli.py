"""The embedded DNS responder's wire format and the debugging CLI, without root."""

from __future__ import annotations

import io
import struct

from seatrial.engines.reference import dns
from seatrial.engines.reference.debugcli import main


def query(name: str, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def test_known_name_gets_its_address_from_the_hosts_file(tmp_path):
    (tmp_path / "hosts").write_text("127.0.0.1\tlocalhost\n::1 localhost\n10.213.1.2\tweb alias\n")
    names = dns.read_hosts(str(tmp_path / "hosts"))
    assert names == {"localhost": "127.0.0.1", "web": "10.213.1.2", "alias": "10.213.1.2"}
    response = dns.answer(query("WEB"), names)
    ident, flags, _, answers = struct.unpack("!HHHH", response[:8])
    assert (ident, flags & 0xF, answers) == (0x1234, 0, 1)
    assert response[-4:] == bytes([10, 213, 1, 2])


def test_unknown_name_is_nxdomain_and_other_types_get_no_answer():
    assert struct.unpack("!H", dns.answer(query("nosuch"), {})[2:4])[0] & 0xF == 3
    response = dns.answer(query("web", qtype=28), {"web": "10.213.1.2"})
    assert struct.unpack("!HH", response[2:4] + response[6:8]) == (0x8180, 0)


def test_cli_lists_images_of_an_empty_state_root(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["--root", str(tmp_path), "images"], stdout=out, stderr=err) == 0
    assert out.getvalue().split() == ["ID", "SIZE", "TAGS"]


def test_cli_reports_an_unknown_container_with_exit_code_1(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["--root", str(tmp_path), "logs", "ghost"], stdout=out, stderr=err) == 1
    assert "no such container: ghost" in err.getvalue()


def test_cli_rm_and_rmi_of_unknown_names_say_so_and_exit_1(tmp_path):
    # `docker rm IMAGE` says "No such container" and exits 1; it used to pass in silence here.
    for command, kind in (("rm", "container"), ("rmi", "image")):
        out, err = io.StringIO(), io.StringIO()
        assert main(["--root", str(tmp_path), command, "ghost:1"], stdout=out, stderr=err) == 1
        assert f"seatrial ref {command}: no such {kind}: ghost:1" in err.getvalue()


def test_without_root_every_capability_is_missing_with_the_reason(monkeypatch, tmp_path):
    from seatrial.engines import base
    from seatrial.engines.reference.adapter import ReferenceEngine

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    engine = ReferenceEngine(tmp_path)
    assert set(engine.capabilities().missing) == set(base.CAPABILITIES)
    assert "needs root" in engine.capabilities().reason("exec")
    info = engine.info()
    assert not info.is_available and "needs root" in info.unavailable_reason
    assert (info.oci_runtime, info.storage_driver, info.is_rootless) == ("seatrial-reference", "overlay", False)


def test_absent_image_message_names_the_loopback_registry_refusal_and_never_dials_elsewhere():
    from seatrial.engines.reference.registrycheck import absent_image_message, registry_of

    assert registry_of("busybox:1") is None and registry_of("team/app") is None
    assert registry_of("localhost:1/x:y") == ("localhost", 1)
    assert "connection refused" in absent_image_message("localhost:1/x:y", may_pull=True)
    assert "not on loopback" in absent_image_message("registry.example:5000/x", may_pull=True)
    assert absent_image_message("x:1", may_pull=False).startswith("No such image: x:1")
