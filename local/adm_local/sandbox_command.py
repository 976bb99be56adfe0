"""``adm-ingest sandbox``: the ADM sandbox in the foreground, the AEP sandbox beside it.

Once both listen, it prints (on stdout) the exact ``export`` lines that point the client
commands (``inventory``, ``status``, ``revoke``, ``delete-dataset``, ``aep-status``) at them:
the hosts (``ADM_API_URL``, ``ADM_TOKEN_URL``, ``AEP_API_URL``, ``AEP_IMS_URL``) and the seeded
credentials, written as JSON files the commands read through ``ADM_CREDENTIALS_FILE`` /
``AEP_CREDENTIALS_FILE`` — no Secrets Manager, and no request to Amazon's or Adobe's real login
hosts. The files live in ``--credentials-dir`` (default: a temporary folder removed on exit);
``--env-file`` also writes the lines to a file to ``source``.

``--account NAME`` (repeatable) adds an ADM manager account with a login of its own
(:meth:`SandboxAccount.named`): its credentials go to ``adm-credentials-<NAME>.json`` beside the
seeded account's, and after the export lines come, per account, the line that uses them and its
entry for the setup config's ``accounts``.

``--aep-account NAME`` (repeatable) adds an org to the AEP sandbox, every id derived from NAME
(``AepAccount.named``), and writes its credentials as ``aep-credentials-<NAME>.json`` beside
the seeded one, printing the line that points a client command at that org instead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adm_ingest.adm import API_URL_ENV, TOKEN_URL_ENV
from adm_ingest.aep import AEP_API_URL_ENV, AEP_IMS_URL_ENV

if TYPE_CHECKING:
    from adm_local.aep_sandbox import AepAccount, AepSandboxServer
    from adm_local.sandbox import SandboxAccount

AEP_SANDBOX_PORT = 8766
"""Where ``adm-ingest sandbox`` serves AEP by default (``adm-ingest aep-sandbox``'s port too)."""
ADM_CREDENTIALS_FILE_ENV = "ADM_CREDENTIALS_FILE"
AEP_CREDENTIALS_FILE_ENV = "AEP_CREDENTIALS_FILE"
ADM_CREDENTIALS_NAME = "adm-credentials.json"
AEP_CREDENTIALS_NAME = "aep-credentials.json"


def add_parser(commands: Any) -> None:
    """Register ``sandbox`` on the CLI's sub-parsers."""
    from adm_local.sandbox.cli import build_parser as sandbox_parser

    sandbox = commands.add_parser(
        "sandbox",
        help="run the ADM sandbox server and the AEP sandbox beside it",
        description=(
            "Serve the ADM sandbox and the AEP sandbox; print the export lines that point the "
            "client commands (inventory, status, aep-status…) at them."
        ),
    )
    sandbox_parser(sandbox)
    sandbox.add_argument(
        "--aep-port",
        type=int,
        default=AEP_SANDBOX_PORT,
        help="port of the AEP sandbox (0: any free port; the fault options apply to ADM only, "
        "`adm-ingest aep-sandbox` injects AEP faults)",
    )
    sandbox.add_argument(
        "--credentials-dir",
        type=Path,
        help="write the seeded credentials files here (default: a temporary folder, removed "
        "when the sandbox stops)",
    )
    sandbox.add_argument(
        "--env-file", type=Path, help="also write the export lines to this file (to `source`)"
    )
    add_aep_account_arguments(sandbox)


# -- AEP orgs besides the seeded one (--aep-account) ------------------------------------------


def add_aep_account_arguments(parser: argparse.ArgumentParser) -> None:
    """``--aep-account NAME``, repeatable: another org of the AEP sandbox."""
    parser.add_argument(
        "--aep-account",
        action="append",
        default=[],
        type=org_name,
        metavar="NAME",
        help="add an AEP org (its client, org, sandbox and tenant derived from NAME) and write "
        "its credentials as aep-credentials-NAME.json; repeatable",
    )


def org_name(value: str) -> str:
    """An extra org's name: one a setup config's ``accounts[].name`` may be (the org exists to
    be named there, with its ``aepSecretId``)."""
    from adm_ingest.setup.config import account_name_problem

    problem = account_name_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def named_orgs(names: Sequence[str]) -> tuple[AepAccount, ...]:
    """The orgs of the ``NAME`` options, in order (a name given twice counts once)."""
    from adm_local.aep_sandbox.ims import AepAccount

    return tuple(AepAccount.named(name) for name in dict.fromkeys(names))


def aep_account_credentials_name(name: str) -> str:
    return f"aep-credentials-{name}.json"


def write_aep_account_credentials(
    folder: Path, names: Sequence[str], sandbox: AepSandboxServer
) -> dict[str, Path]:
    """Each extra org's credentials file (owner-only), by account name."""
    written: dict[str, Path] = {}
    for name, account in zip(dict.fromkeys(names), sandbox.accounts[1:], strict=True):
        path = folder / aep_account_credentials_name(name)
        path.write_text(json.dumps(account.secret_document(), indent=2) + "\n", encoding="utf-8")
        path.chmod(0o600)
        written[name] = path
    return written


def aep_account_hints(files: dict[str, Path], sandbox: AepSandboxServer) -> list[str]:
    """One comment line per extra org: the export that points the client commands at it."""
    lines = []
    for (name, path), account in zip(files.items(), sandbox.accounts[1:], strict=True):
        lines.append(
            f"# AEP org {name} (org_id={account.org_id} sandbox_name={account.sandbox_name} "
            f"tenant_id={account.tenant_id}): "
            f"export {AEP_CREDENTIALS_FILE_ENV}={shlex.quote(str(path))}"
        )
    return lines


def export_lines(
    *,
    adm_url: str,
    adm_token_url: str,
    aep_url: str,
    adm_credentials: Path,
    aep_credentials: Path,
) -> list[str]:
    """The shell lines that point the client commands at the two sandboxes."""
    values = {
        API_URL_ENV: adm_url,
        TOKEN_URL_ENV: adm_token_url,
        ADM_CREDENTIALS_FILE_ENV: str(adm_credentials),
        # One host serves the platform and IMS (the client appends /ims/token/v3).
        AEP_API_URL_ENV: aep_url,
        AEP_IMS_URL_ENV: aep_url,
        AEP_CREDENTIALS_FILE_ENV: str(aep_credentials),
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def write_credentials(folder: Path, adm: dict[str, str], aep: dict[str, str]) -> tuple[Path, Path]:
    """The seeded credentials as the JSON files the client commands read (owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / ADM_CREDENTIALS_NAME, folder / AEP_CREDENTIALS_NAME)
    for path, document in zip(paths, (adm, aep), strict=True):
        _write_private(path, document)
    return paths


def _write_private(path: Path, document: Mapping[str, str]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)  # sandbox values, but credentials files stay private by habit


# -- the --account manager accounts (adm_local/sandbox/cli.py adds the option) ---------------


def adm_credentials_name(name: str) -> str:
    """The credentials file of ``--account name``, beside the seeded account's."""
    return f"adm-credentials-{name}.json"


def adm_account_secret_id(name: str) -> str:
    """The secret the printed ``accounts`` entry names: ``setup --against`` and ``local run``
    store the account's credentials under it in their embedded Secrets Manager."""
    return f"adm-ingest/credentials-{name}"


def adm_account_entry(name: str, account: SandboxAccount) -> dict[str, str]:
    """The setup config's ``accounts`` entry for the sandbox account ``name``."""
    return {
        "name": name,
        "managerAccountId": account.manager_account_id,
        "advertiserAccountId": account.advertiser_account_id,
        "profileId": account.profile_id,
        "secretId": adm_account_secret_id(name),
    }


def adm_account_lines(
    accounts: Sequence[tuple[str, SandboxAccount, Path]], adm_url: str
) -> list[str]:
    """What to print for the ``--account`` accounts: per account, the command line that uses
    its credentials file and its ``accounts`` entry (one JSON line, ready to paste)."""
    if not accounts:
        return []
    lines = [
        "# More manager accounts (--account): per account, a client command with its",
        '# credentials, then its entry for the setup config\'s "accounts" (items name it',
        f'# with "account"). Locally, `adm-ingest setup CONFIG --against {adm_url}`',
        "# and `adm-ingest local run --setup CONFIG` create its secretId; on AWS: your secret.",
    ]
    for name, account, path in accounts:
        lines.append(f"{ADM_CREDENTIALS_FILE_ENV}={shlex.quote(str(path))} adm-ingest inventory")
        lines.append(json.dumps(adm_account_entry(name, account)))
    return lines


def write_adm_account_credentials(
    folder: Path, names: Sequence[str], accounts: Sequence[SandboxAccount]
) -> list[tuple[str, SandboxAccount, Path]]:
    """Each ``--account`` account's credentials file (``adm-credentials-<NAME>.json``)."""
    written = []
    for name, account in zip(names, accounts, strict=True):
        path = folder / adm_credentials_name(name)
        _write_private(path, account.secret_document())
        written.append((name, account, path))
    return written


def _adm_accounts(names: Sequence[str]) -> tuple[SandboxAccount, ...]:
    """The ``--account`` accounts; a name a setup config could not use is a usage error."""
    from adm_local.operator.exits import USAGE, CliError
    from adm_local.sandbox.cli import AccountNameError, extra_accounts

    try:
        return extra_accounts(names)
    except AccountNameError as error:
        raise CliError(str(error), USAGE) from None


def run(args: argparse.Namespace, out: Callable[[str], None] | None = None) -> int:
    """Serve both sandboxes until Ctrl-C; print the export lines once both listen."""
    from adm_local.aep_sandbox import AepSandboxServer
    from adm_local.aep_sandbox.cli import build_parser as aep_sandbox_parser
    from adm_local.aep_sandbox.cli import org_lines
    from adm_local.sandbox import SandboxServer
    from adm_local.sandbox.cli import run as run_adm

    emit = out or (lambda line: print(line, flush=True))
    adm_accounts = _adm_accounts(args.account)
    _stop_on_sigterm()
    # The AEP sandbox as its own command starts it by default (processing delay, PUT limit…).
    aep = aep_sandbox_parser().parse_args([])
    temporary = args.credentials_dir is None
    # Absolute: the printed lines are pasted into another shell, maybe in another folder.
    folder = (
        Path(tempfile.mkdtemp(prefix="adm-ingest-sandbox-"))
        if temporary
        else args.credentials_dir.resolve()
    )
    try:
        with AepSandboxServer(
            args.aep_port,
            host=args.host,
            token_ttl=aep.token_ttl,
            processing_delay=aep.processing_delay,
            abandon_after=aep.abandon_after,
            put_limit_bytes=aep.put_limit,
            log_stream=None if args.quiet else sys.stderr,
            accounts=named_orgs(args.aep_account),
        ) as aep_sandbox:
            account = aep_sandbox.account
            print(
                f"AEP sandbox listening on {aep_sandbox.url} (AEP_API_URL and AEP_IMS_URL)\n"
                + "\n".join(org_lines(org) for org in aep_sandbox.accounts),
                file=sys.stderr,
                flush=True,
            )

            def ready(adm: SandboxServer) -> None:
                adm_file, aep_file = write_credentials(
                    folder, adm.account.secret_document(), account.secret_document()
                )
                lines = export_lines(
                    adm_url=adm.url,
                    adm_token_url=adm.token_url,
                    aep_url=aep_sandbox.url,
                    adm_credentials=adm_file,
                    aep_credentials=aep_file,
                )
                if args.env_file is not None:
                    args.env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
                emit("# Point the client commands (inventory, status, aep-status…) here:")
                for line in lines:
                    emit(line)
                written = write_adm_account_credentials(folder, args.account, adm_accounts)
                for line in adm_account_lines(written, adm.url):
                    emit(line)
                aep_files = write_aep_account_credentials(folder, args.aep_account, aep_sandbox)
                for line in aep_account_hints(aep_files, aep_sandbox):
                    emit(line)

            return run_adm(args, ready=ready)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


def _stop_on_sigterm() -> None:
    """``kill`` (SIGTERM) stops the sandbox as Ctrl-C does, so the credentials folder goes."""
    import signal
    import threading

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
