"""What every remote platform's credentials need: a JSON secret read from Secrets Manager, a
cached access token, and error text scrubbed of the secrets before it travels anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def read_json_secret(secret_id: str, *, max_age: int) -> Mapping[str, Any]:
    """The secret's JSON object, through Powertools Parameters (cached for ``max_age`` s).

    Raises:
        ValueError: the secret is not a JSON object (the text names the secret, not its value).
    """
    # Imported here: Parameters pulls in boto3 and is only needed where a secret is read.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    if not isinstance(value, Mapping):
        raise ValueError(f"secret {secret_id!r} is not a JSON object")
    return value


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` (a server's error description) with every secret masked, at most 200 chars."""
    # A server may echo what it received; make sure none of our secrets travel further.
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:200]


@dataclass(frozen=True, slots=True, repr=False)
class CachedToken:
    """An access token and the clock reading after which it is refreshed (never in a repr)."""

    value: str
    refresh_at: float
