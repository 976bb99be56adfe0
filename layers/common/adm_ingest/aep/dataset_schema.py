"""What a dataset's registry entry holds of its XDM schema, computed from the schema itself.

The setup workflow stores, with each dataset's registry entry, what the worker needs to build
and check rows: the schema's ``$id`` (the encoder reads the tenant of ``_{tenant}`` paths from
it), the dataset's class (``profile`` or ``experience_event``, from the schema's
``meta:class``) and the compiled validator form. :func:`dataset_attributes` derives the same
from a schema as the Schema Registry returns it in ``xed-full`` form, with the same rules as
the setup step (``adm_ingest.setup.aep_steps``), so a dry-run given the schema file plays the
target setup would have registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from adm_ingest.aep.xdm_encoder import DATASET_CLASS, SCHEMA_ID, VALIDATOR
from adm_ingest.aep.xdm_records import DatasetClass
from adm_ingest.aep.xdm_validation import UnsupportedSchema, compile_schema

XDM_CLASSES: Final[Mapping[str, DatasetClass]] = {
    "https://ns.adobe.com/xdm/context/profile": DatasetClass.PROFILE,
    "https://ns.adobe.com/xdm/context/experienceevent": DatasetClass.EXPERIENCE_EVENT,
}
"""The XDM classes a dataset can be ingested into by batch, and what the mapping calls them."""


class SchemaNotUsable(ValueError):
    """The schema can't be a batch-ingestion dataset's (its class, or a construct the validator
    does not understand); the message names the problem, never a value."""


def dataset_class(schema: Mapping[str, Any]) -> DatasetClass:
    """The dataset class of ``schema``: its ``meta:class``, else the one class it extends."""
    xdm_class = schema.get("meta:class")
    if isinstance(xdm_class, str) and xdm_class in XDM_CLASSES:
        return XDM_CLASSES[xdm_class]
    extends = schema.get("meta:extends")
    found = {
        XDM_CLASSES[ref]
        for ref in (extends if isinstance(extends, list) else ())
        if isinstance(ref, str) and ref in XDM_CLASSES
    }
    if len(found) == 1:
        return found.pop()
    raise SchemaNotUsable(
        "the schema's meta:class is neither the XDM Individual Profile nor the ExperienceEvent "
        "class"
    )


def dataset_attributes(schema: Mapping[str, Any]) -> dict[str, str]:
    """The registry attributes a dataset of ``schema`` gets from it: ``schema_id``,
    ``dataset_class`` and ``validator``.

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
    return {
        SCHEMA_ID: str(schema.get("$id") or ""),
        DATASET_CLASS: str(kind),
        VALIDATOR: form.to_json(),
    }
