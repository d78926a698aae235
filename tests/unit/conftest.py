import pytest


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path, monkeypatch):
    """Sessions made by unit tests lock in a private folder, never the machine's."""
    monkeypatch.setenv("SEATRIAL_LOCK_DIR", str(tmp_path / "locks"))
