"""``adm-ingest sandbox`` serves ADM and, beside it on a port of its own, AEP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BANNER = re.compile(r"^(ADM|AEP) sandbox listening on (http://\S+)")


def test_the_sandbox_command_serves_adm_and_aep_on_two_ports() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'layers/common'}:{ROOT / 'local'}"}
    command = [sys.executable, "-c", "from adm_local.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "sandbox", "--port", "0", "--aep-port", "0", "--quiet"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(urls) < 2 and time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line, f"the command ended early: {urls}"
            if found := BANNER.match(line):
                urls[found[1]] = found[2]
        assert set(urls) == {"ADM", "AEP"}
        assert urls["ADM"] != urls["AEP"]

        # Each platform answers as itself: LwA on ADM's port, IMS and the gateway on AEP's.
        lwa = requests.post(
            urls["ADM"] + "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "amzn1.application-oa2-client.sandbox",
                "client_secret": "sandbox-secret",
                "refresh_token": "Atzr|sandbox-refresh-token",
            },
            timeout=5,
        )
        assert lwa.status_code == 200 and lwa.json()["access_token"]
        assert requests.post(urls["AEP"] + "/auth/o2/token", timeout=5).status_code == 404
        token = requests.post(
            urls["AEP"] + "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": "aep-sandbox-client",
                "client_secret": "aep-sandbox-secret",
                "scope": "openid",
            },
            timeout=5,
        )
        assert token.status_code == 200 and token.json()["expires_in"] > 0
        anonymous = requests.get(urls["AEP"] + "/data/foundation/catalog/dataSets", timeout=5)
        assert anonymous.json()["error_code"] == "403010"
    finally:
        process.terminate()
        process.wait(timeout=10)
