"""A sandbox port already taken (another sandbox still running, the usual case) is one
``adm-ingest: error:`` line naming the address, exit 1 — not the socket's traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from adm_local.cli import main


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["sandbox", "--port", "{port}", "--aep-port", "0"], "adm-sandbox"),
        (["sandbox", "--port", "0", "--aep-port", "{port}"], "aep-sandbox"),
        (["aep-sandbox", "--port", "{port}"], "aep-sandbox"),
    ],
)
def test_a_port_in_use_is_one_line(
    busy_port: int, capsys: pytest.CaptureFixture[str], command: list[str], name: str
) -> None:
    args = [part.format(port=busy_port) for part in command]

    assert main([*args, "--quiet"]) == 1

    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("adm-ingest: error: ")]
    assert len(lines) == 1, err
    assert f"{name} cannot listen on 127.0.0.1:{busy_port}" in lines[0]
