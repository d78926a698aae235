import os
import subprocess
import sys

import pytest

from seatrial.harness.session import Session, forget_dead_locks, is_alive, scratch_root


def test_a_live_session_holds_its_lock_and_a_second_start_is_refused():
    session = Session.start()
    try:
        assert is_alive(session.id)
        with pytest.raises(RuntimeError, match="already running"):
            Session.start(session.id)
    finally:
        session.close()
    assert not is_alive(session.id)
    assert not session.scratch.exists()


def test_lock_of_a_killed_session_is_free_and_forgotten():
    code = (
        "import os, signal; from seatrial.harness.session import Session; Session.start('cafe0001'); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code], env=os.environ.copy())
    assert not is_alive("cafe0001")
    left = scratch_root() / "cafe0001"
    assert left.is_dir(), "the killed session should have left its scratch folder"
    assert "cafe0001" in forget_dead_locks()
    assert not left.exists()
