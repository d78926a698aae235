"""The container name index (engines/reference/nameindex.py): one name, one live container, even
when processes sharing a state root claim it at once; a stale entry never names a container."""

from __future__ import annotations

import multiprocessing
import secrets
import shutil

from seatrial.engines.reference import nameindex
from seatrial.engines.reference.state import StateRoot, write_json


def make_container(state: StateRoot, name: str) -> str:
    """A container as containers.py makes it: the directory first, then the claim, then config.json."""
    cid = secrets.token_hex(32)
    (state.containers / cid).mkdir()
    assert state.names.claim(name, cid)
    write_json(state.containers / cid / "config.json", {"id": cid, "name": name})
    return cid


def test_a_claimed_name_is_refused_to_a_second_container_and_found_by_lookup(tmp_path):
    state = StateRoot(tmp_path)
    cid = make_container(state, "web")
    other = secrets.token_hex(32)
    (state.containers / other).mkdir()
    assert not state.names.claim("web", other)
    assert state.container_dir("web") == state.containers / cid


def test_a_removed_container_leaves_a_stale_entry_that_the_next_claim_replaces(tmp_path):
    state = StateRoot(tmp_path)
    first = make_container(state, "web")
    shutil.rmtree(state.containers / first)  # as the reaper removes it, without the index
    assert state.container_dir("web") is None
    second = make_container(state, "web")
    assert state.container_dir("web") == state.containers / second


def test_an_entry_is_never_trusted_over_the_record_it_points_at(tmp_path):
    state = StateRoot(tmp_path)
    cid = make_container(state, "web")
    write_json(state.containers / cid / "config.json", {"id": cid, "name": "db"})
    assert state.container_dir("web") is None


def test_release_drops_only_the_entry_that_points_at_its_container(tmp_path):
    state = StateRoot(tmp_path)
    first = make_container(state, "web")
    shutil.rmtree(state.containers / first)
    second = make_container(state, "web")
    state.names.release("web", first)  # late release of the first holder: must not drop the second's
    assert state.container_dir("web") == state.containers / second
    state.names.release("web", second)
    assert not (state.root / "names" / "web").is_symlink()


def test_prune_drops_stale_entries_and_keeps_live_ones(tmp_path):
    state = StateRoot(tmp_path)
    gone = make_container(state, "gone")
    kept = make_container(state, "kept")
    shutil.rmtree(state.containers / gone)
    assert state.names.prune() == ["gone"]
    assert state.container_dir("kept") == state.containers / kept


def test_a_root_made_before_the_index_is_indexed_on_first_use(tmp_path):
    state = StateRoot(tmp_path)
    cid = secrets.token_hex(32)
    write_json(state.containers / cid / "config.json", {"id": cid, "name": "old"})
    assert not (state.root / "names").exists()
    assert state.container_dir("old") == state.containers / cid
    other = secrets.token_hex(32)
    (state.containers / other).mkdir()
    assert not state.names.claim("old", other)


def test_a_hostile_name_stays_inside_the_index(tmp_path):
    state = StateRoot(tmp_path)
    for name in ("../escape", "/abs", ".complete", "a/b"):
        cid = make_container(state, name)
        assert state.container_dir(name) == state.containers / cid
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".lock", "cache", "containers", "images", "layers", "names", "networks", "tmp", "trash", "volumes"]
    )
    assert all(entry.is_symlink() for entry in (tmp_path / "names").iterdir() if entry.name != nameindex.COMPLETE)
    assert nameindex.key("web-1.a_b") == "web-1.a_b"


def _claim_in_child(root: str, name: str, results) -> None:
    state = StateRoot(root)
    cid = secrets.token_hex(32)
    (state.containers / cid).mkdir()
    results.put(cid if state.names.claim(name, cid) else "")


def test_processes_claiming_one_name_at_once_get_it_once(tmp_path):
    StateRoot(tmp_path)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [context.Process(target=_claim_in_child, args=(str(tmp_path), "same", results)) for _ in range(8)]
    for child in children:
        child.start()
    winners = [cid for cid in (results.get(timeout=30) for _ in children) if cid]
    for child in children:
        child.join(timeout=30)
    assert len(winners) == 1
    assert (tmp_path / "names" / "same").readlink().name == winners[0]


def test_generated_names_are_found_from_the_directory_names(tmp_path):
    state = StateRoot(tmp_path)
    cid = secrets.token_hex(32)
    write_json(state.containers / cid / "config.json", {"id": cid, "name": f"ref_{cid[:12]}"})
    (state.root / "names").mkdir()
    (state.root / "names" / nameindex.COMPLETE).touch()
    assert state.container_dir(f"ref_{cid[:12]}") == state.containers / cid
    assert state.container_dir(cid[:8]) == state.containers / cid
    assert state.container_dir(f"ref_{'0' * 12}") is None


def test_a_stale_entry_replaced_under_the_lock_loses_cleanly_to_a_claim_made_meanwhile(tmp_path, monkeypatch):
    """A free name is claimed without the lock; a claimer replacing a stale entry under the lock
    may find, between its unlink and its symlink, that one took the name: it says the name is
    in use instead of failing."""
    state = StateRoot(tmp_path)
    stale = make_container(state, "web")
    shutil.rmtree(state.containers / stale)
    winner, loser = secrets.token_hex(32), secrets.token_hex(32)
    for cid in (winner, loser):
        (state.containers / cid).mkdir()
    real_unlink = nameindex.Path.unlink

    def unlink_then_lose_the_race(self, missing_ok=False):
        real_unlink(self, missing_ok=missing_ok)
        if self.parent == state.names.dir:
            monkeypatch.setattr(nameindex.Path, "unlink", real_unlink)
            assert state.names.claim("web", winner)  # the lock-free path, meanwhile

    monkeypatch.setattr(nameindex.Path, "unlink", unlink_then_lose_the_race)
    assert not state.names.claim("web", loser)
    assert state.names.lookup_config("web") is None  # no config.json yet for the winner...
    write_json(state.containers / winner / "config.json", {"id": winner, "name": "web"})
    assert state.container_dir("web") == state.containers / winner  # ...whose claim stands
