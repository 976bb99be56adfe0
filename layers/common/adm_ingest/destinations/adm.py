"""What the three Amazon Ads data manager (ADM) destinations share: one client, Amazon's record
rules, and how ADM's errors map to the pipeline's neutral outcomes.

Errors are classified by :func:`adm_ingest.destinations.http_failures.classify_http_error`
(the table is there), refusals reasoned ``adm_<status>[_<code>]``.
"""

from __future__ import annotations

from typing import ClassVar

from adm_ingest.adm import AccountRef, AdmClient, ClientSettings, RetryPolicy, Transport
from adm_ingest.adm.auth import Credentials, TokenProvider
from adm_ingest.clients import ClientEnvironment
from adm_ingest.destinations.base import DeliveryFailed, DeliveryTarget, Destination, safe_code
from adm_ingest.destinations.http_failures import classify_http_error
from adm_ingest.record_rules import AMAZON_RULES, RecordRules

PLATFORM = "adm"
"""The prefix of ADM's reason codes (``adm_400_…``)."""


class AdmDestination(Destination):
    """Base of the ADM destinations: they deliver with no remote file to open or close (the
    audience ones then wait for the dataset's match rate: :mod:`.adm_metrics`)."""

    client_key: ClassVar[str] = "adm"
    rules: ClassVar[RecordRules] = AMAZON_RULES

    @classmethod
    def connect(cls, environment: ClientEnvironment) -> AdmClient:
        """The deployment's default account (the ``ADM_SECRET_ID`` secret's)."""
        return cls.connect_for(environment, DeliveryTarget(cls.name))

    @classmethod
    def client_key_for(cls, target: DeliveryTarget) -> str:
        # One client per account: its headers, path ids and rate limit are the account's.
        account = AccountRef.from_attributes(target.attributes)
        return cls.client_key if account.is_default else f"{cls.client_key}|{account.cache_key()}"

    @classmethod
    def connect_for(cls, environment: ClientEnvironment, target: DeliveryTarget) -> AdmClient:
        """A client for the account the target's registry entry names (absent: the default),
        with the credentials secret it names; one token provider per secret per container."""
        settings = environment.settings
        account = AccountRef.from_attributes(target.attributes)
        secret_id = account.secret_id or settings.secret_id

        def tokens(client_settings: ClientSettings, credentials: Credentials) -> TokenProvider:
            key = ("adm-token-provider", secret_id, client_settings.token_url)
            return environment.shared(
                key,
                lambda: TokenProvider(
                    credentials,
                    token_url=client_settings.token_url,
                    transport=Transport(
                        timeouts=client_settings.timeouts, retry=client_settings.retry
                    ),
                ),
            )

        return AdmClient.from_secret(
            secret_id,
            retry=RetryPolicy(
                max_attempts=settings.adm_max_attempts,
                base_delay=settings.adm_retry_base_delay_ms / 1000,
            ),
            call_budget=settings.adm_call_budget_ms / 1000,
            limiter_for=lambda credentials: environment.rate_limiter(
                credentials.advertiser_account_id
            ),
            account=account,
            tokens_for=tokens,
        )

    def classify(self, error: Exception) -> DeliveryFailed | None:
        return classify_http_error(error, PLATFORM)


def error_reason(code: str | None) -> str:
    """The rejection reason recorded for an item ADM refused."""
    return f"adm_{safe_code(code)}" if code else "adm_rejected"
