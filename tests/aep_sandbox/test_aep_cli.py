"""``adm-ingest aep-sandbox`` serves the platform until stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_serves_ims_and_the_platform() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'layers/common'}:{ROOT / 'local'}"}
    command = [sys.executable, "-c", "from adm_local.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "aep-sandbox", "--port", "0", "--quiet", "--processing-delay", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = re.search(r"listening on (http://\S+)", banner)
        assert url is not None, banner
        token = requests.post(
            url[1] + "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": "aep-sandbox-client",
                "client_secret": "aep-sandbox-secret",
                "scope": "openid",
            },
            timeout=5,
        )
        assert token.status_code == 200
        anonymous = requests.get(url[1] + "/data/foundation/catalog/dataSets", timeout=5)
        assert anonymous.json()["error_code"] == "403010"
    finally:
        process.terminate()
        process.wait(timeout=10)
