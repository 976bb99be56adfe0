"""Which ADM account a call acts for, when one deployment serves several advertisers.

A registry entry (audience, conversion definition) of a non-default account carries the account
as string attributes — ``manager_account_id``, ``advertiser_account_id``, ``profile_id``,
``secret_id``, ``region`` — written by the setup workflow; an entry without them belongs to the
deployment's default account (its credentials secret names the account ids, as before).

:class:`AccountRef` is that set of attributes: it picks the credentials secret (``secret_id``,
else the deployment's) and replaces the account ids the secret names, so every header and path
of a call comes from the entry's account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from adm_ingest.adm.endpoints import check_region

if TYPE_CHECKING:  # auth imports this package's lower layers: a name import here could cycle
    from adm_ingest.adm.auth import Credentials

ACCOUNT_ATTRIBUTES = (
    "manager_account_id",
    "advertiser_account_id",
    "profile_id",
    "secret_id",
    "region",
)
"""The registry attributes that name an entry's account (all strings; absent: the default)."""


@dataclass(frozen=True, slots=True)
class AccountRef:
    """The account of a registry entry; every field ``None`` is the deployment's default."""

    manager_account_id: str | None = None
    advertiser_account_id: str | None = None
    profile_id: str | None = None
    secret_id: str | None = None
    """The credentials secret of this account (``None``: the deployment's ``ADM_SECRET_ID``)."""
    region: str | None = None

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, Any]) -> AccountRef:
        """The account named by an entry's (or a delivery target's) attributes."""

        def text(name: str) -> str | None:
            value = attributes.get(name)
            return str(value) if value not in (None, "") else None

        return cls(*(text(name) for name in ACCOUNT_ATTRIBUTES))

    @property
    def is_default(self) -> bool:
        return self == AccountRef()

    def to_attributes(self) -> dict[str, str]:
        """The entry attributes naming this account (none for the default account)."""
        values = {name: getattr(self, name) for name in ACCOUNT_ATTRIBUTES}
        return {name: value for name, value in values.items() if value}

    def cache_key(self) -> str:
        """A stable text naming the secret and account (ids only, nothing secret)."""
        return "|".join(getattr(self, name) or "" for name in ACCOUNT_ATTRIBUTES)

    def apply(self, credentials: Credentials) -> Credentials:
        """``credentials`` (read from this account's secret) acting for this account.

        The account's ids replace the secret's. A profile is the account's own: one read from
        the deployment's secret belongs to the default advertiser, so it is dropped for another
        account that names none (a secret of the account's own keeps its profile).
        """
        if self.is_default:
            return credentials
        profile = self.profile_id
        if profile is None and self.secret_id is not None:
            profile = credentials.profile_id
        return replace(
            credentials,
            region=check_region(self.region) if self.region else credentials.region,
            manager_account_id=self.manager_account_id or credentials.manager_account_id,
            advertiser_account_id=self.advertiser_account_id or credentials.advertiser_account_id,
            profile_id=profile,
        )
