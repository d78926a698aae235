"""Test files of other tools (container-structure-test, goss) read as seatrial scenarios."""
