"""The name → id registry: how a bucket prefix name becomes an ADM id.

The setup workflow writes it (audience dataset ids, conversion definition ids, sharing rule ids,
optional per-prefix column mappings, AEP dataset ids with their validator forms); the splitter
and workers read it. One DynamoDB table with a single string key ``pk`` of the form
``<namespace>#<name>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:  # dev-only stubs: the layer does not ship them
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_dynamodb.type_defs import ScanInputTableScanTypeDef

AUDIENCE = "audience"
CONVERSION_DEFINITION = "conversion"
SHARING_RULE = "sharing"
MAPPING = "mapping"
AEP_DATASET = "aep_dataset"
"""An AEP dataset by its setup-config name: id = dataset id; attributes ``schema_id``,
``dataset_class``, ``validator`` (the XDM validator form), ``partial_ingestion_percent``,
``profile_enabled`` (all strings)."""
NAMESPACES = (AUDIENCE, CONVERSION_DEFINITION, SHARING_RULE, MAPPING, AEP_DATASET)


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One registered name: ``id`` is the ADM id; ``attributes`` any extra facts (country…)."""

    namespace: str
    name: str
    id: str
    attributes: Mapping[str, Any]


class Registry:
    """Read and write registry entries in a DynamoDB table (key ``pk``)."""

    def __init__(self, table_name: str, *, dynamodb: DynamoDBServiceResource | None = None) -> None:
        resource = dynamodb or boto3.resource("dynamodb")
        self._table = resource.Table(table_name)

    @staticmethod
    def _key(namespace: str, name: str) -> str:
        if namespace not in NAMESPACES:
            raise ValueError(f"unknown registry namespace {namespace!r}")
        return f"{namespace}#{name}"

    def put(self, namespace: str, name: str, id: str, **attributes: Any) -> None:
        """Create or replace the entry for ``name``."""
        item = {"pk": self._key(namespace, name), "id": id, **attributes}
        self._table.put_item(Item=item)

    def get(self, namespace: str, name: str) -> RegistryEntry | None:
        """The entry for ``name``, or None when it is not registered."""
        item = self._table.get_item(Key={"pk": self._key(namespace, name)}, ConsistentRead=True)
        found = item.get("Item")
        return _entry(found) if found else None

    def id_of(self, namespace: str, name: str) -> str | None:
        entry = self.get(namespace, name)
        return entry.id if entry else None

    def entries(self, namespace: str | None = None) -> Iterator[RegistryEntry]:
        """Every entry (optionally of one namespace), in no particular order."""
        kwargs: ScanInputTableScanTypeDef = {}
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                entry = _entry(item)
                if namespace is None or entry.namespace == namespace:
                    yield entry
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot(self) -> dict[str, dict[str, str]]:
        """``{namespace: {name: id}}`` — what the setup workflow reports and tests compare."""
        result: dict[str, dict[str, str]] = {}
        for entry in self.entries():
            result.setdefault(entry.namespace, {})[entry.name] = entry.id
        return result


def _entry(item: Mapping[str, Any]) -> RegistryEntry:
    namespace, _, name = str(item["pk"]).partition("#")
    attributes = {k: v for k, v in item.items() if k not in ("pk", "id")}
    return RegistryEntry(namespace=namespace, name=name, id=str(item["id"]), attributes=attributes)
