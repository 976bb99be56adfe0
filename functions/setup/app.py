"""Thin Lambda task handlers of the setup state machine (``setup.asl.json``).

Each handler parses its input, calls one library step (:mod:`adm_ingest.setup.steps`) and
returns plain JSON. Failures propagate as exceptions: the exception's class name becomes the
Step Functions error name, which the definition's Retry (``RetryableError``, ``Throttled``,
``ServerError``, ``DeadlineExceeded``) and Catch match on.

Environment: ``ADM_SECRET_ID`` (the default account's credentials secret; an item of another
account carries that account, with its own ``secretId`` when it has one), ``REGISTRY_TABLE``
and, optionally,
``ADM_API_URL`` / ``ADM_TOKEN_URL`` (endpoint overrides, read by the ADM client). The AEP step
(``ensure_aep_dataset``) reads ``AEP_SECRET_ID`` instead (a dataset of another account: that
account's ``aepSecretId``, carried by the item), and optionally ``AEP_API_URL`` /
``AEP_IMS_URL``; no ADM handler reads an AEP secret, so an ADM-only config needs none.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from aws_lambda_powertools.utilities.typing import LambdaContext

from adm_ingest.adm import AdmClient, Deadline
from adm_ingest.aep import AepClient, AepSettings
from adm_ingest.registry import Registry
from adm_ingest.setup import aep_steps, steps
from adm_ingest.setup.config import (
    AccountSpec,
    parse_account,
    parse_aep_dataset,
    parse_audience,
    parse_config,
    parse_conversion_definitions,
    parse_sharing_rule,
)

logger = Logger(service="adm-ingest-setup")

# Stop calling ADM this long before the Lambda timeout, so a slow call ends as a retryable
# error the state machine retries rather than as a Lambda timeout.
_DEADLINE_MARGIN_S = 5.0

# One AEP client per credential and hosts, kept across invocations: Adobe throttles
# integrations that mint many IMS tokens, and the client caches its token.
_aep_clients: dict[tuple[str, str, str], AepClient] = {}


def _client(context: LambdaContext, account: AccountSpec | None = None) -> AdmClient:
    """A client of the default account, or of ``account`` (its secret, else the default's)."""
    if account is None:
        client = AdmClient.from_secret(os.environ["ADM_SECRET_ID"])
    else:
        client = AdmClient.from_secret(
            account.secret_id or os.environ["ADM_SECRET_ID"], account=account.ref()
        )
    client.set_deadline(Deadline.from_lambda_context(context, margin_seconds=_DEADLINE_MARGIN_S))
    return client


class AepSecretMissing(Exception):
    """The config has ``aepDatasets`` but this function was deployed without ``AEP_SECRET_ID``."""


class AepSecretUnreadable(Exception):
    """An account's ``aepSecretId`` cannot be read (missing, not granted, not JSON): named."""


class NotAnAdmAccount(Exception):
    """An AEP-only account reached an ADM step (the state machine routes them around it)."""


def _aep_client(context: LambdaContext, account_secret_id: str | None = None) -> AepClient:
    """A client of the default AEP credentials, or of the secret ``account_secret_id`` (a
    dataset of another account): one per secret and hosts, kept across invocations."""
    secret_id = account_secret_id or os.environ.get("AEP_SECRET_ID")
    if not secret_id:
        raise AepSecretMissing(
            "the config has aepDatasets, but AEP_SECRET_ID (the AEP credentials secret) is not "
            "set for the setup's EnsureAepDataset function"
        )
    settings = AepSettings.from_environ()
    key = (secret_id, settings.api_url, settings.ims_url)
    client = _aep_clients.get(key)
    if client is None:
        client = _aep_clients[key] = AepClient.from_secret(secret_id, settings)
    client.set_deadline(Deadline.from_lambda_context(context, margin_seconds=_DEADLINE_MARGIN_S))
    return client


@logger.inject_lambda_context
def accept_terms(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Validate the whole config (before any call), then accept the terms if needed.

    Output (replaces the state): ``{"config": <normalized config>, "results": {"terms": …}}``.
    """
    config = parse_config(event)
    result = steps.ensure_terms(_client(context))
    return {"config": config.to_json(), "results": {"terms": result.to_json()}}


@logger.inject_lambda_context
def ensure_data_room(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input ``{"advertiserAccountId"}``; output the data room's item result."""
    advertiser = str(event.get("advertiserAccountId", ""))
    return steps.ensure_data_room(_client(context), advertiser).to_json()


@logger.inject_lambda_context
def ensure_account(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input one normalized ``accounts`` item (an account besides the default one): accept its
    terms and ensure its data room; output ``{"terms", "dataRoom"}`` item results."""
    account = parse_account(event)
    if account.advertiser_account_id is None:
        raise NotAnAdmAccount(f"account {account.name} is AEP-only: it has no terms or data room")
    client = _client(context, account)
    terms, room = steps.ensure_account(client, account.name, account.advertiser_account_id)
    return {"terms": terms.to_json(), "dataRoom": room.to_json()}


@logger.inject_lambda_context
def ensure_audience(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input one normalized audience item; output its item result (id = dataSetId)."""
    spec = parse_audience(event)
    return steps.ensure_audience(_client(context, spec.account), spec).to_json()


@logger.inject_lambda_context
def ensure_conversion_definitions(
    event: dict[str, Any], context: LambdaContext
) -> list[dict[str, Any]]:
    """Input ``{"conversionDefinitions": [...]}``; output one item result per definition, in
    config order (each account's definitions listed and created with that account's client)."""
    specs = parse_conversion_definitions(event.get("conversionDefinitions", []))
    by_name: dict[str, dict[str, Any]] = {}
    for account in dict.fromkeys(spec.account for spec in specs):
        group = [spec for spec in specs if spec.account == account]
        for result in steps.ensure_conversion_definitions(_client(context, account), group):
            by_name[result.name] = result.to_json()
    return [by_name[spec.name] for spec in specs]


@logger.inject_lambda_context
def ensure_sharing_rule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input ``{"rule", "audiences", "conversionDefinitions"}`` (the last two: earlier results)."""
    spec = parse_sharing_rule(event["rule"])
    ids = steps.resolve_shared_ids(
        spec, event.get("audiences") or [], event.get("conversionDefinitions") or []
    )
    return steps.ensure_sharing_rule(_client(context, spec.account), spec, ids).to_json()


@logger.inject_lambda_context
def save_registry(event: dict[str, Any], context: LambdaContext) -> list[dict[str, Any]]:
    """Input the whole state ``{"config", "results"}``; output one result per registry entry.

    For an AEP-only config this is the first step: validating the config here means nothing
    is called when it is invalid, as AcceptTerms guarantees for the others.
    """
    config = parse_config(event["config"])
    results = event.get("results", {})
    items = [
        steps.ItemResult.from_json(raw)
        for key in ("audiences", "conversionDefinitions", "sharingRules")
        for raw in results.get(key) or []
    ]
    registry = Registry(os.environ["REGISTRY_TABLE"])
    return [result.to_json() for result in steps.save_registry(registry, config, items)]


@logger.inject_lambda_context
def ensure_aep_dataset(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Input one normalized ``aepDatasets`` item; output ``{"dataset", "registry"}`` results.

    The dataset is ensured with its account's AEP credentials (the item's ``account.aepSecretId``,
    else ``AEP_SECRET_ID``), and its registry entry names that secret (non-default only).

    The validator form goes straight to the registry from here: it can be far larger than a
    Step Functions state may carry (256 KB), so it never travels through the execution.
    """
    spec = parse_aep_dataset(event)
    registry = Registry(os.environ["REGISTRY_TABLE"])
    try:
        client = _aep_client(context, spec.aep_secret_id)
    except (GetParameterError, ValueError) as error:
        if spec.account is None:
            raise
        # Which secret of which account: the one line a person needs (never the value).
        raise AepSecretUnreadable(
            f"AEP dataset {spec.name}: the AEP credentials secret {spec.aep_secret_id!r} of "
            f"account {spec.account.name} cannot be read ({type(error).__name__}): create it, "
            "or list its ARN in the AepAccountSecretArns parameter"
        ) from None
    return aep_steps.setup_aep_dataset(client, registry, spec).to_json()
