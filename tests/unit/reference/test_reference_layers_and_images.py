"""The layer and image stores, without root."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from seatrial.engines.reference.images import ImageNotFound, ImageStore, normalize_reference
from seatrial.engines.reference.layers import LayerError, directory_digest
from seatrial.engines.reference.rootfs import overlay_lowers
from seatrial.engines.reference.state import StateRoot


def layer_tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(StateRoot(tmp_path / "state"))


def test_layers_are_stored_once_by_the_sha256_of_their_tar(store):
    raw = layer_tar({"a.txt": "a"})
    first = store.layers.add_tar(raw)
    assert first == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert store.layers.add_tar(raw) == first
    assert store.layers.all() == [first]
    assert (store.layers.path(first) / "a.txt").read_text() == "a"


def test_a_layer_that_does_not_match_its_digest_is_refused(store):
    with pytest.raises(LayerError, match="digest mismatch"):
        store.layers.add_tar(layer_tar({"a": "a"}), expected="sha256:" + "0" * 64)


def test_a_member_escaping_the_layer_is_refused(store):
    with pytest.raises(LayerError, match="escapes"):
        store.layers.add_tar(layer_tar({"../evil": "x"}))


def test_directory_digest_follows_content(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("1")
    before = directory_digest(tmp_path / "d")
    assert directory_digest(tmp_path / "d") == before
    (tmp_path / "d" / "f").write_text("2")
    assert directory_digest(tmp_path / "d") != before


@pytest.mark.parametrize(
    "given, expected",
    [
        ("busybox", "busybox:latest"),
        ("docker.io/library/busybox:1.36", "busybox:1.36"),
        ("localhost:5000/team/app", "localhost:5000/team/app:latest"),
        ("team/app:v1", "team/app:v1"),
    ],
)
def test_references_get_the_default_registry_namespace_and_tag(given, expected):
    assert normalize_reference(given) == expected


def write_docker_archive(path, layers: list[bytes], tag: str, labels: dict) -> None:
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in layers]
    config = json.dumps(
        {"config": {"Cmd": ["sh"], "Labels": labels}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    manifest = json.dumps(
        [{"Config": "config.json", "RepoTags": [tag], "Layers": [f"{d[7:]}/layer.tar" for d in diff_ids]}]
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, raw in [("config.json", config), ("manifest.json", manifest)] + [
            (f"{d[7:]}/layer.tar", raw) for d, raw in zip(diff_ids, layers)
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def test_docker_archive_import_tags_labels_and_sizes(store, tmp_path):
    write_docker_archive(
        tmp_path / "img.tar",
        [layer_tar({"a": "aaaa"}), layer_tar({"b": "bb"})],
        "team/app:v1",
        {"seatrial.session": "s1"},
    )
    image_id = store.load(tmp_path / "img.tar")
    record = store.resolve("docker.io/team/app:v1")
    assert record["id"] == image_id and record["size"] == 6 and len(record["layers"]) == 2
    assert [r["id"] for r in store.with_label("seatrial.session=s1")] == [image_id]
    assert store.with_label("seatrial.session=other") == []
    assert store.resolve(image_id[7:19])["id"] == image_id


def test_removing_an_image_frees_only_layers_no_other_image_uses(store, tmp_path):
    shared, own = layer_tar({"shared": "s"}), layer_tar({"own": "o"})
    write_docker_archive(tmp_path / "one.tar", [shared, own], "one:1", {})
    write_docker_archive(tmp_path / "two.tar", [shared], "two:1", {})
    store.load(tmp_path / "one.tar"), store.load(tmp_path / "two.tar")
    store.tag("one:1", "alias:1")
    store.remove("one:1")
    assert store.exists("alias:1") and len(store.layers.all()) == 2  # still tagged
    store.remove("alias:1")
    store.remove("alias:1")  # idempotent
    assert not store.exists("one:1")
    assert store.layers.all() == store.resolve("two:1")["layers"]
    with pytest.raises(ImageNotFound, match="not found locally"):
        store.resolve("one:1")


def test_oci_layout_import_reads_index_manifest_config_and_gzipped_layers(store, tmp_path):
    import gzip

    raw = layer_tar({"oci.txt": "oci"})
    blobs = tmp_path / "oci" / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer = blob(gzip.compress(raw))
    config = blob(
        json.dumps(
            {
                "config": {"Cmd": ["sh"]},
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
            }
        ).encode()
    )
    manifest = blob(json.dumps({"schemaVersion": 2, "config": config, "layers": [layer]}).encode())
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "oci/app:2"}
    (tmp_path / "oci" / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
    (tmp_path / "oci" / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    image_id = store.load(tmp_path / "oci")
    record = store.resolve("oci/app:2")
    assert record["id"] == image_id
    assert (store.layers.path(record["layers"][0]) / "oci.txt").read_text() == "oci"


def hostile_layer(members: list[tuple[str, str, str]]) -> bytes:
    """A layer tar of (kind, name, payload): kind "link" (payload: symlink target), "hard"
    (payload: hard link target), "file" (payload: content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload.encode())
                tar.addfile(info, io.BytesIO(payload.encode()))
                continue
            info.type = tarfile.SYMTYPE if kind == "link" else tarfile.LNKTYPE
            info.linkname = payload
            tar.addfile(info)
    return buffer.getvalue()


def test_loading_an_archive_whose_symlink_points_at_the_host_writes_inside_the_layer(store, tmp_path):
    """Probe 2: `escape -> /host/dir` then `escape/f` wrote /host/dir/f; now the link is followed
    inside the layer, as a container would see it (Docker extracts in a chroot: the same)."""
    host = tmp_path / "host"
    host.mkdir()
    layer = hostile_layer(
        [
            ("link", "escape", str(host)),
            ("file", "escape/f", "pwned"),
            ("link", "up", "../../../../../../../.." + str(host)),
            ("file", "up/g", "pwned"),
        ]
    )
    write_docker_archive(tmp_path / "img.tar", [layer], "hostile:1", {})
    image_id = store.load(tmp_path / "img.tar")
    assert list(host.iterdir()) == []
    fs = store.layers.path(store.resolve(image_id)["layers"][0])
    assert (fs / str(host).lstrip("/") / "f").read_text() == "pwned"
    assert (fs / str(host).lstrip("/") / "g").read_text() == "pwned"


def test_a_hard_link_member_cannot_reach_a_host_file(store, tmp_path):
    """A hard link through a symlink member (`h` -> `escape/secret`, escape -> host folder) would
    make the host's file part of the layer; it links inside the layer or not at all."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host secret")
    layer = hostile_layer([("link", "escape", str(host)), ("hard", "h", "escape/secret")])
    with pytest.raises(LayerError, match="hard link target not in the layer"):
        store.layers.add_tar(layer)
    assert os.stat(host / "secret").st_nlink == 1


@pytest.mark.parametrize("digest", ["sha256:../../../../host/secret", "sha256:" + "a" * 63, "md5:abc"])
def test_an_oci_digest_that_is_no_digest_is_refused_before_any_read(store, tmp_path, digest):
    """An OCI layout directory names blobs by digest; `sha256:../../x` would read a host file
    into the image. Only sha256 digests are taken, and a blob must hash to its digest."""
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "secret").write_text('{"schemaVersion": 2}')
    layout = tmp_path / "a" / "b"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{"digest": digest}]}))
    with pytest.raises(ValueError, match="is not sha256:<64 hex digits>"):
        store.load(layout)


def test_an_oci_blob_that_does_not_hash_to_its_digest_is_refused(store, tmp_path):
    layout = tmp_path / "oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    digest = "0" * 64
    (layout / "blobs" / "sha256" / digest).write_text('{"schemaVersion": 2}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{"digest": f"sha256:{digest}"}]}))
    with pytest.raises(ValueError, match="content hashes to sha256:"):
        store.load(layout)


def test_a_layer_held_twice_is_given_to_overlayfs_once_at_its_topmost_place():
    """overlayfs refuses a lowerdir given twice (ELOOP); the upper copy shadows the lower one."""
    assert overlay_lowers(["/l/c", "/l/a", "/l/b", "/l/a", "/init"]) == ["/l/c", "/l/a", "/l/b", "/init"]
