import os
import subprocess
import sys

from fakes import RecordingEngine

from seatrial.engines.base import SESSION_LABEL, ResourceRef
from seatrial.harness.reaper import leaks, reap_dead_sessions
from seatrial.harness.session import Session, is_alive


def ref(kind, name, session):
    return ResourceRef(kind, id=name, name=name, labels={SESSION_LABEL: session})


def test_reaper_removes_resources_of_killed_session_and_spares_live_ones(tmp_path):
    live = Session.start()
    # A session whose process died by SIGKILL: its lock file exists but nobody holds it.
    code = (
        "import os, signal; from seatrial.harness.session import Session; s = Session.start('deadbeef'); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code], env=os.environ.copy())
    assert not is_alive("deadbeef")
    engine = RecordingEngine(
        held=[
            ref("container", "c-dead", "deadbeef"),
            ref("image", "i-dead", "deadbeef"),
            ref("container", "c-live", live.id),
            ref("volume", "v-gone", "nolock"),
        ]
    )
    try:
        removed = reap_dead_sessions([engine])
        assert {r.handle for r in removed} == {"c-dead", "i-dead", "v-gone"}
        assert [r.handle for r in engine.held] == ["c-live"]
        removes = [c for c in engine.calls if c[0] == "remove"]
        assert removes.index(("remove", "container", "c-dead")) < removes.index(("remove", "image", "i-dead"))
        # The engine is asked for what `remove` cannot reach, per dead session, and for what no
        # session owns, once; the live session is left alone.
        assert sorted(engine.reaped) == ["deadbeef", "nolock"]
        assert engine.calls.count(("prune",)) == 1
    finally:
        live.close()


def test_leak_check_names_what_carries_the_session_label():
    engine = RecordingEngine(held=[ref("network", "n1", "s1"), ref("network", "n2", "s2")])
    found = leaks([engine], "s1")
    assert [r.handle for r in found["fake"]] == ["n1"]
    assert leaks([engine], "s3") == {}


def test_reaper_reports_what_the_engine_refused_to_remove():
    engine = RecordingEngine(
        held=[ref("container", "c-stuck", "nolock2"), ref("volume", "v-ok", "nolock2")], stuck={"c-stuck"}
    )
    logged = []
    removed = reap_dead_sessions([engine], log=logged.append)
    assert [r.handle for r in removed] == ["v-ok"]
    assert "reaper: could not remove container c-stuck from fake" in logged
    assert engine.reaped == ["nolock2"]
