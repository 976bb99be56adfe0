"""What a dataset's registry entry holds of its XDM schema, computed from the schema itself.

The setup workflow stores, with each dataset's registry entry, the attributes the worker needs
to build and check rows: the schema's ``$id``, the dataset's class (``profile`` or
``experience_event``, from the schema's ``meta:class``), the compiled validator form and the
tenant (the ``_<tenant>`` field group container). :func:`dataset_attributes` derives them from
a schema as the Schema Registry returns it in ``xed-full`` form, so a dry-run given the schema
file plays exactly the target setup would have registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from adm_ingest.aep.xdm_encoder import DATASET_CLASS, TENANT, VALIDATOR
from adm_ingest.aep.xdm_records import DatasetClass
from adm_ingest.aep.xdm_validation import UnsupportedSchema, compile_schema

SCHEMA_ID: Final = "schema_id"
"""The registry attribute holding the schema's ``$id``."""

XDM_CLASSES: Final[Mapping[str, DatasetClass]] = {
    "https://ns.adobe.com/xdm/context/profile": DatasetClass.PROFILE,
    "https://ns.adobe.com/xdm/context/experienceevent": DatasetClass.EXPERIENCE_EVENT,
}
"""The XDM classes a dataset can be ingested into by batch, and what the mapping calls them."""

_TENANT_IN_ID: Final = re.compile(r"^https://ns\.adobe\.com/([a-z][a-z0-9_]{0,63})/schemas/")
_TENANT_FIELD: Final = re.compile(r"^_([a-z][a-z0-9_]{0,63})$")
_STANDARD_UNDERSCORED: Final = frozenset({"_id", "_repo"})


class SchemaNotUsable(ValueError):
    """The schema can't be a batch-ingestion dataset's (its class, or a construct the validator
    does not understand); the message names the problem, never a value."""


def dataset_class(schema: Mapping[str, Any]) -> DatasetClass:
    """The dataset class of ``schema``: its ``meta:class``, else the first class it extends."""
    candidates = [schema.get("meta:class")]
    extends = schema.get("meta:extends")
    if isinstance(extends, list):
        candidates += extends
    for candidate in candidates:
        if isinstance(candidate, str) and candidate in XDM_CLASSES:
            return XDM_CLASSES[candidate]
    raise SchemaNotUsable(
        "the schema's meta:class is neither the XDM Individual Profile nor the ExperienceEvent "
        "class"
    )


def tenant_of(schema: Mapping[str, Any]) -> str | None:
    """The tenant id: from the schema's ``$id`` (``https://ns.adobe.com/<tenant>/schemas/…``),
    else its one ``_<tenant>`` top-level field; ``None`` when neither says."""
    found = _TENANT_IN_ID.match(str(schema.get("$id") or ""))
    if found:
        return found.group(1)
    properties = schema.get("properties")
    names = [
        match.group(1)
        for name in (properties if isinstance(properties, Mapping) else {})
        if name not in _STANDARD_UNDERSCORED and (match := _TENANT_FIELD.match(name))
    ]
    return names[0] if len(names) == 1 else None


def dataset_attributes(schema: Mapping[str, Any]) -> dict[str, str]:
    """The registry attributes a dataset of ``schema`` gets: ``schema_id``, ``dataset_class``,
    ``validator`` and, when the schema says, ``tenant``.

    Raises:
        SchemaNotUsable: not a Profile / ExperienceEvent schema, or a construct the validator
            does not understand (naming its path).
    """
    if schema.get("type") != "object":
        raise SchemaNotUsable("not an XDM schema: expected a JSON object of type 'object'")
    kind = dataset_class(schema)
    try:
        form = compile_schema(schema)
    except UnsupportedSchema as error:
        raise SchemaNotUsable(str(error)) from None
    attributes = {
        SCHEMA_ID: str(schema.get("$id") or ""),
        DATASET_CLASS: str(kind),
        VALIDATOR: form.to_json(),
    }
    tenant = tenant_of(schema)
    if tenant:
        attributes[TENANT] = tenant
    return attributes
