"""``adm-ingest aep-sandbox`` serves the platform until stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from adm_local.aep_sandbox.ims import AepAccount

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_serves_ims_and_the_platform_for_each_org() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'layers/common'}:{ROOT / 'local'}"}
    command = [sys.executable, "-c", "from adm_local.cli import main; main()"]
    process = subprocess.Popen(
        [
            *command,
            "aep-sandbox",
            "--port",
            "0",
            "--quiet",
            "--processing-delay",
            "0",
            "--account",
            "brand2",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = [process.stderr.readline() for _ in range(5)]
        url = re.search(r"listening on (http://\S+)", banner[0])
        assert url is not None, banner
        # The seeded org, then the one --account adds, each with its credentials.
        brand2 = AepAccount.named("brand2")
        assert banner[1:] == [
            "  client_id=aep-sandbox-client client_secret=aep-sandbox-secret\n",
            f"  org_id={AepAccount().org_id} sandbox_name=prod tenant_id=admingest\n",
            f"  client_id={brand2.client_id} client_secret={brand2.client_secret}\n",
            f"  org_id={brand2.org_id} sandbox_name=brand2-prod tenant_id=brand2\n",
        ]
        for client_id, client_secret in [
            ("aep-sandbox-client", "aep-sandbox-secret"),
            (brand2.client_id, brand2.client_secret),
        ]:
            token = requests.post(
                url[1] + "/ims/token/v3",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": client_secret,
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


def test_an_org_name_a_setup_config_could_not_use_is_a_usage_error() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'layers/common'}:{ROOT / 'local'}"}
    command = [sys.executable, "-c", "from adm_local.cli import main; main()"]
    done = subprocess.run(
        [*command, "aep-sandbox", "--port", "0", "--account", "default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "default is the top-level account's name" in done.stderr.splitlines()[-1]
