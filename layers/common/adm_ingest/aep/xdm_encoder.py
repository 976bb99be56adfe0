"""The AEP record path as the pipeline sees it: a :class:`~adm_ingest.destinations.base.
RowEncoder` over :class:`~adm_ingest.aep.xdm_records.XdmRowBuilder` — a header's layout once,
then each record's fields to one validated XDM JSON Lines item, or why not.

The mapping comes from the file's pinned mapping config (its ``xdm`` section) completed by the
dataset's registry entry: the dataset's class and tenant when the section leaves them out, and
the validator form the setup workflow compiled from the dataset's schema.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from adm_ingest.aep.xdm_records import XdmMapping, XdmMappingError, XdmRowBuilder
from adm_ingest.aep.xdm_validation import ValidatorForm
from adm_ingest.mapping_config import MappingConfig, MappingError
from adm_ingest.records import Rejection

DATASET_CLASS = "dataset_class"
VALIDATOR = "validator"
TENANT = "tenant"
SCHEMA_ID = "schema_id"
"""The registry entry's attributes this module reads (written by the setup workflow)."""
_TENANT_SCHEMA = re.compile(r"^https://ns\.adobe\.com/([a-z0-9_]+)/schemas/")
"""A tenant schema's ``$id`` names the tenant (``https://ns.adobe.com/acme/schemas/…``)."""


def dataset_tenant(dataset: Mapping[str, str]) -> str | None:
    """The tenant whose ``_{tenant}`` fields the dataset's schema has: as registered, else the
    one its schema's ``$id`` names."""
    if dataset.get(TENANT):
        return dataset[TENANT]
    found = _TENANT_SCHEMA.match(dataset.get(SCHEMA_ID, ""))
    return found.group(1) if found else None


def xdm_mapping(config: MappingConfig, dataset: Mapping[str, str]) -> XdmMapping:
    """The XDM mapping of a file: the config's ``xdm`` section, its class and tenant defaulting
    to the dataset's.

    Raises:
        MappingError: naming the bad key (``xdm.columns['Points']: …``).
    """
    section: dict[str, Any] = dict(config.xdm or {})
    if "class" not in section and dataset.get(DATASET_CLASS):
        section["class"] = dataset[DATASET_CLASS]
    if "tenant" not in section and (tenant := dataset_tenant(dataset)):
        section["tenant"] = tenant
    for key in ("decimal", "timezone", "date_order"):  # the file-wide options apply here too
        value = getattr(config, key)
        if key not in section and value is not None:
            section[key] = value
    try:
        return XdmMapping.from_config(section)
    except XdmMappingError as error:
        raise MappingError(f"xdm: {error}") from None


def validator_form(dataset: Mapping[str, str]) -> ValidatorForm | None:
    """The dataset's compiled schema, as the setup workflow stored it (None: none stored)."""
    text = dataset.get(VALIDATOR)
    return ValidatorForm.from_json(text) if text else None


class XdmEncoder:
    """Records → validated XDM rows, serialized (one JSON Lines item each)."""

    def __init__(
        self,
        mapping: XdmMapping,
        form: ValidatorForm | None,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        try:
            self.builder = XdmRowBuilder(mapping, form, clock=clock)
        except XdmMappingError as error:
            raise MappingError(f"xdm: {error}") from None
        self.notes: Counter[str] = Counter()

    def layout_for(self, header: Sequence[str]) -> object:
        return self.builder.layout_for(header)

    def encode_row(self, line: int, fields: Sequence[str]) -> bytes | Rejection:
        return self.builder.encode(self.builder.build(line, fields))

    def summary(self) -> dict[str, Any]:
        summary = self.builder.summary()
        warnings: list[dict[str, Any]] = []
        for entry in summary["not_sent"]:
            warnings.append(
                {
                    "code": "column_not_sent",
                    "message": f"column {entry['column']!r} is not sent: {entry['why']}",
                }
            )
        for column in summary["missing"]:
            warnings.append(
                {
                    "code": "configured_column_missing",
                    "message": f"the mapping names column {column!r}, which the file lacks",
                }
            )
        summary["warnings"] = warnings
        return summary
