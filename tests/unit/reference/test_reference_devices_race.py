"""Making a container's device cgroup survives the root's last container removing the parent
folder at the same moment (seen on a loaded machine: `[Errno 17] File exists` from pathlib, whose
mkdir(exist_ok=True) raises when the folder vanishes between mkdir's EEXIST and its is_dir())."""

from __future__ import annotations

import pathlib

from seatrial.engines.reference import devices


def fake_controller(tmp_path):
    controller = tmp_path / "devices"
    controller.mkdir()
    (controller / "devices.deny").touch()
    return controller


def test_a_parent_removed_between_mkdir_and_its_check_is_made_again(tmp_path, monkeypatch):
    controller = fake_controller(tmp_path)
    real_mkdir = pathlib.Path.mkdir
    raced = []

    def racing_mkdir(self, *args, **kwargs):
        if self == devices.parent_of(tmp_path / "root", controller) and not raced:
            raced.append(self)
            raise FileExistsError(17, "File exists", str(self))  # as pathlib raises after the race
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", racing_mkdir)
    # cgroupfs makes these files itself; in a plain folder, make them as the kernel would.
    parent = devices.parent_of(tmp_path / "root", controller)
    monkeypatch.setattr(devices, "_write", lambda path, *values: path.open("a").write("".join(values)))
    path = devices.create(tmp_path / "root", "c1", controller)
    assert raced and path == str(parent / "c1")
    assert (parent / "c1" / "devices.deny").read_text() == "a"
