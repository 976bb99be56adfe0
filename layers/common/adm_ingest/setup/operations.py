"""Day-two operations around the setup: revoke, delete, list, upload status.

Library functions the CLI subcommands call (and the state machine, for ``revoke`` in the
config). None of them handles personal data: they deal in ids, names, statuses and counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from adm_ingest.adm import AdmClient

logger = Logger(child=True)


class ConfirmationRequired(Exception):
    """A destructive operation was called without its explicit confirmation flag."""


def revoke_sharing_rule(client: AdmClient, sharing_rule_id: str) -> None:
    """Stop sharing: ``PATCH /adm/sharingRules/{id}/revoke`` (revoking twice is harmless)."""
    client.revoke_sharing_rule(sharing_rule_id)
    logger.info("sharing rule revoked", extra={"sharing_rule_id": sharing_rule_id})


def delete_dataset(client: AdmClient, data_set_id: str, *, confirm: bool = False) -> None:
    """Delete a dataset and all its data (``DELETE /adm/datasets/{id}``) — irreversible.

    Raises:
        ConfirmationRequired: unless ``confirm`` is true.
    """
    if not confirm:
        raise ConfirmationRequired(
            f"deleting dataset {data_set_id} removes its data from ADM and every destination; "
            "pass confirm=True (CLI: --yes) to proceed"
        )
    client.delete_dataset(data_set_id)
    logger.info("dataset deleted", extra={"data_set_id": data_set_id})


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One thing that exists in the account, as a table row."""

    kind: str
    name: str
    id: str
    status: str = ""
    detail: str = ""

    def cells(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.name, self.id, self.status, self.detail)


INVENTORY_HEADER = ("KIND", "NAME", "ID", "STATUS", "DETAIL")


def inventory(client: AdmClient) -> list[InventoryRow]:
    """What exists: the data room (with its metadata counts), audience datasets, sharing rules
    and conversion definitions — in that order."""
    room = client.get_data_room()
    if room is None:
        return [InventoryRow("data_room", "data_room", "", "absent", "run the setup first")]
    meta = client.get_data_room_metadata()
    rows = [
        InventoryRow(
            "data_room",
            "data_room",
            room.account_id,
            "present",
            f"datasets={meta.total_data_sets} in_use={meta.data_sets_in_use} "
            f"destinations={meta.active_destinations} linked_accounts={meta.linked_accounts}",
        )
    ]
    names: dict[str, str] = {}
    for dataset in client.list_audiences():
        names[dataset.data_set_id] = dataset.name
        rows.append(
            InventoryRow(
                "audience", dataset.name, dataset.data_set_id, "", dataset.country_code or ""
            )
        )
    for rule in client.list_sharing_rules():
        shared = names.get(rule.data_set_id, rule.data_set_id)
        rows.append(
            InventoryRow(
                "sharing_rule",
                f"{shared} → {rule.application}",
                rule.sharing_rule_id,
                rule.status,
                f"destination={rule.destination_account_id} marketplace={rule.marketplace_id}",
            )
        )
    for definition in client.list_conversion_definitions():
        rows.append(
            InventoryRow(
                "conversion_definition",
                definition.name,
                definition.conversion_definition_id,
                "",
                f"{definition.conversion_type or ''} {definition.source_type or ''}".strip(),
            )
        )
    return rows


def format_table(
    rows: Sequence[InventoryRow | Sequence[str]], header: Sequence[str] = INVENTORY_HEADER
) -> str:
    """Fixed-width text table; the last column is not padded."""
    table = [tuple(header)] + [
        row.cells() if isinstance(row, InventoryRow) else tuple(row) for row in rows
    ]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + str(line[-1])
        for line in table
    ).rstrip()


@dataclass(frozen=True, slots=True)
class AudienceStatus:
    """Upload status of one audience dataset (``GET /adm/audiences/{id}`` + dataset details)."""

    data_set_id: str
    name: str
    country_code: str | None
    last_modified: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    """The ``POST /adm/datasets/list`` entry (record counts, active destinations…), if any."""

    def rows(self) -> list[tuple[str, str]]:
        """``(field, value)`` pairs for display."""
        pairs = [
            ("dataSetId", self.data_set_id),
            ("name", self.name),
            ("countryCode", self.country_code or ""),
            ("lastModified", self.last_modified or ""),
        ]
        pairs.extend(
            (key, str(value))
            for key, value in sorted(self.details.items())
            if not isinstance(value, Mapping | list) and key not in dict(pairs)
        )
        return pairs


def audience_status(client: AdmClient, data_set_id: str) -> AudienceStatus:
    """The upload status of an audience: its dataset record and its details (counts)."""
    dataset = client.get_audience(data_set_id)
    details = next(iter(client.list_dataset_details([data_set_id])), {})
    last_modified = dataset.raw.get("lastModified") or details.get("lastModified")
    return AudienceStatus(
        data_set_id=dataset.data_set_id or data_set_id,
        name=dataset.name,
        country_code=dataset.country_code,
        last_modified=str(last_modified) if last_modified else None,
        details=dict(details),
    )
