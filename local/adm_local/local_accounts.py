"""A setup config's other accounts (``accounts``), locally: their credentials secrets, and
the sandbox accounts (ADM) and orgs (AEP) an embedded stack serves them with.

On AWS each ``accounts[].secretId`` / ``aepSecretId`` is a secret the operator filled. Locally
nobody did: the commands that run the setup on an embedded moto (``setup --against URL``,
``setup`` and ``local run`` with their own sandbox) create those secrets, holding the login
``adm-ingest sandbox --account NAME`` serves for the account NAME
(:meth:`SandboxAccount.named`) and the org ``--aep-account NAME`` serves
(:meth:`AepAccount.named`) — so a config with the entry those commands print works as it is.
An account without a ``secretId`` is acted for by the deployment's secret (the seeded login).
Several accounts naming one secret share one login: its first account's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypedDict

from adm_ingest.setup.config import AccountSpec, SetupConfig
from adm_local.aep_sandbox.ims import AepAccount
from adm_local.sandbox.auth import SandboxAccount


class AccountCredentialsError(ValueError):
    """Credentials given for an account the config does not hold, or that has no secret."""


def account_secrets(
    config: SetupConfig, given: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Mapping[str, Any]]:
    """Secret id → credentials document, for every ``secretId`` and ``aepSecretId`` of
    ``config``'s accounts.

    ``given`` (secret id → document: ``setup --account-secret ID=FILE``) replaces the sandbox
    login of that secret.

    Raises:
        AccountCredentialsError: ``given`` names a secret none of the config's accounts names.
    """
    secrets: dict[str, Mapping[str, Any]] = {
        secret_id: SandboxAccount.named(first.name).secret_document(first.region)
        for secret_id, first in _first_account_of_each_secret(config).items()
    }
    for secret_id, first in _first_account_of_each_secret(config, _aep_secret).items():
        secrets.setdefault(secret_id, AepAccount.named(first.name).secret_document())
    for secret_id, document in (given or {}).items():
        if secret_id not in secrets:
            named = ", ".join(sorted(secrets)) or "none"
            raise AccountCredentialsError(
                f"no account of the setup config names the secret {secret_id!r} "
                f"(its secretId / aepSecretId: {named})"
            )
        secrets[secret_id] = document
    return secrets


def aep_sandbox_accounts(config: SetupConfig) -> tuple[AepAccount, ...]:
    """The orgs an embedded AEP sandbox needs besides its seeded one for ``config``: one per
    ``aepSecretId``, its first account's (see :func:`account_secrets`)."""
    first = _first_account_of_each_secret(config, _aep_secret)
    return tuple(AepAccount.named(account.name) for account in first.values())


def sandbox_accounts(
    config: SetupConfig, seeded: SandboxAccount | None = None
) -> tuple[SandboxAccount, ...]:
    """The manager accounts an embedded sandbox needs besides ``seeded`` for ``config``.

    Each has the config account's ids; its login is its secret's (see :func:`account_secrets`),
    or ``seeded``'s when it names no secret. An account whose manager id the sandbox already
    holds is left out (the sandbox keys its state by manager account).
    """
    seeded = seeded or SandboxAccount()
    first = _first_account_of_each_secret(config)
    held = {seeded.manager_account_id}
    accounts = []
    for spec in config.accounts:
        if spec.manager_account_id is None or spec.advertiser_account_id is None:
            continue  # an AEP-only account
        if spec.manager_account_id in held:
            continue
        held.add(spec.manager_account_id)
        login = SandboxAccount.named(first[spec.secret_id].name) if spec.secret_id else seeded
        accounts.append(
            replace(
                login,
                manager_account_id=spec.manager_account_id,
                advertiser_account_id=spec.advertiser_account_id,
                profile_id=spec.profile_id or SandboxAccount.named(spec.name).profile_id,
            )
        )
    return tuple(accounts)


class StackAccounts(TypedDict):
    """The :class:`~adm_local.stack.LocalStack` keywords that serve a config's accounts."""

    sandbox_kwargs: Mapping[str, Any]
    aep_sandbox_kwargs: Mapping[str, Any]
    secrets: Mapping[str, Mapping[str, Any]]


def local_stack_accounts(config: SetupConfig) -> StackAccounts:
    """``LocalStack(**local_stack_accounts(config))``: a local stack whose sandboxes hold the
    config's accounts and orgs and whose Secrets Manager their secrets."""
    return StackAccounts(
        sandbox_kwargs={"accounts": sandbox_accounts(config)},
        aep_sandbox_kwargs={"accounts": aep_sandbox_accounts(config)},
        secrets=account_secrets(config),
    )


def _adm_secret(account: AccountSpec) -> str | None:
    return account.secret_id


def _aep_secret(account: AccountSpec) -> str | None:
    return account.aep_secret_id


def _first_account_of_each_secret(
    config: SetupConfig, secret_of: Callable[[AccountSpec], str | None] = _adm_secret
) -> dict[str, AccountSpec]:
    """Secret id → the first of the config's accounts naming it (``secret_of``: its ADM
    ``secretId`` by default, or its ``aepSecretId``): the account whose login it holds."""
    first: dict[str, AccountSpec] = {}
    for account in config.accounts:
        secret_id = secret_of(account)
        if secret_id is not None:
            first.setdefault(secret_id, account)
    return first
