"""Waiting on the emulator under load: a slow emulator is busy, not gone (kit/emulator.py)."""

from __future__ import annotations

import socket

from kit.emulator import Emulator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_down(tmp_path):
    emu = Emulator(host="127.0.0.1", port=_closed_port(), state_dir=tmp_path)
    assert emu.probe(timeout=2) == "down"
    assert emu.is_running(timeout=2) is False


def test_a_server_that_accepts_but_does_not_answer_is_busy_not_down(tmp_path):
    with socket.socket() as server:  # listens, never answers: an emulator busy reloading IAM policies
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        emu = Emulator(host="127.0.0.1", port=server.getsockname()[1], state_dir=tmp_path)
        assert emu.probe(timeout=0.5) == "busy"
        assert emu.is_running(timeout=1) is False  # gave up after its own timeout, did not call it "down"
