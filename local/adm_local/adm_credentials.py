"""Which ADM credentials a client command uses: ``--credentials FILE``, ``--secret ID``, else
``$ADM_CREDENTIALS_FILE`` (what ``adm-ingest sandbox`` exports for its seeded account), else
``$ADM_SECRET_ID`` — one rule for every command that talks to ADM."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from adm_ingest.adm import AdmClient, ClientSettings
from adm_ingest.adm.auth import Credentials
from adm_local.sandbox_command import ADM_CREDENTIALS_FILE_ENV


class CredentialsUnavailable(Exception):
    """No usable credentials: the message is the one line the user sees; ``code`` the exit
    code (2: a usage mistake — nothing given, a file that is not credentials; 1: a secret
    Secrets Manager would not give)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def adm_client(credentials_file: Path | None, secret_id: str | None) -> AdmClient:
    """A client for the flags given, else the environment's credentials.

    Raises:
        CredentialsUnavailable: nothing given, or a file that can't be read (named, never a
            value from it).
    """
    path, secret = credentials_file, secret_id
    if path is None and secret is None:
        from_env = os.environ.get(ADM_CREDENTIALS_FILE_ENV)
        path = Path(from_env) if from_env else None
        secret = None if path else os.environ.get("ADM_SECRET_ID")
    if path is not None:
        try:
            credentials = Credentials.from_mapping(json.loads(path.read_text()))
        except OSError as error:
            raise CredentialsUnavailable(f"{path}: {error.strerror or error}") from None
        except ValueError as error:  # not JSON, or fields missing (named, never a value)
            raise CredentialsUnavailable(f"{path}: {error}") from None
        return AdmClient(ClientSettings.for_region(credentials.region), credentials)
    if secret:
        try:
            return AdmClient.from_secret(secret)
        except GetParameterError:  # Powertools' wrapper of the Secrets Manager error
            raise CredentialsUnavailable(
                f"could not read the secret {secret!r} from Secrets Manager", 1
            ) from None
        except (ValueError, KeyError) as error:  # fields missing (names, never values)
            raise CredentialsUnavailable(f"{secret}: not usable credentials ({error})") from None
    raise CredentialsUnavailable(
        f"give --credentials or --secret, or set {ADM_CREDENTIALS_FILE_ENV} or ADM_SECRET_ID "
        "(`adm-ingest sandbox` prints the lines for its account)"
    )
