"""The AEP half of the setup: each configured dataset ensured by name, registered with the
compact validator form of its schema.

For one ``aepDatasets`` item, :func:`setup_aep_dataset`:

1. resolves the schema (a ``$id`` / ``meta:altId`` is fetched directly; anything else is a title,
   looked up in the tenant's schema listing) and fetches it resolved (``xed-full``);
2. compiles it into a :class:`~adm_ingest.aep.xdm_validation.ValidatorForm` and reads the
   dataset class (Individual Profile or ExperienceEvent) from its ``meta:class``. A schema the
   validator does not understand, of another class, or whose form would not fit a registry item
   fails here, before anything is created;
3. ensures the dataset: lists Catalog by name first, creates it only when missing (with the
   Profile / Identity tags asked for), and JSON-Patches the tags of an existing one only when a
   tag asked for is not yet on it;
4. writes the ``aep_dataset`` registry entry only when it differs from what is stored.

A dataset of another account (``"account"`` naming one with ``aepSecretId``) is ensured by a
client of that account's credentials — the caller builds ``client`` from
:attr:`~adm_ingest.setup.config.AepDatasetSpec.aep_secret_id` — and its entry carries the
secret as ``aep_secret_id``, so its files are delivered with the same credentials.

Like the ADM steps it is idempotent: a second run with the same config creates and writes
nothing and reports ``unchanged``. A create is never replayed blindly (the AEP client does not
resend it); the state machine retries the step, which lists again before creating.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from adm_ingest.aep import AepClient, AepNotFound, Dataset
from adm_ingest.aep.auth import AEP_SECRET_ATTRIBUTE
from adm_ingest.aep.dataset_schema import SchemaNotUsable, dataset_class
from adm_ingest.aep.xdm_validation import UnsupportedSchema, ValidatorForm, compile_schema
from adm_ingest.registry import AEP_DATASET, Registry
from adm_ingest.setup.config import AepDatasetSpec
from adm_ingest.setup.steps import ItemKind, ItemResult, Outcome, put_if_changed

logger = Logger(child=True)

MAX_VALIDATOR_BYTES = 300_000
"""The largest validator form stored: a DynamoDB item holds at most 400 KB, the rest of the
entry is small, and a form this big means a schema the worker would check slowly anyway."""

_SCHEMA_ID = re.compile(r"https?://\S+")
_SCHEMA_ALT_ID = re.compile(r"_[A-Za-z0-9_]+\.schemas\.[A-Za-z0-9_]+")


class SchemaNotFound(Exception):
    """The configured schema (``$id``, altId or title) is not in the tenant's Schema Registry,
    or its title names several schemas."""


class UnsupportedDatasetSchema(Exception):
    """The dataset's schema cannot be validated before upload (a construct the validator does
    not understand, a class other than Profile / ExperienceEvent, a form too large to store)."""


class DatasetSchemaMismatch(Exception):
    """A dataset of that name exists for another schema (datasets cannot change schema)."""


@dataclass(frozen=True, slots=True)
class ResolvedSchema:
    """What setup learnt about a dataset's schema."""

    id: str
    """The schema's ``$id`` (what the dataset's ``schemaRef`` holds)."""
    dataset_class: str
    """``profile`` or ``experience_event``."""
    form: ValidatorForm


@dataclass(frozen=True, slots=True)
class AepDatasetResult:
    """The two outcomes of one dataset: the dataset itself, and its registry entry."""

    dataset: ItemResult
    registry: ItemResult

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset.to_json(), "registry": self.registry.to_json()}


def setup_aep_dataset(
    client: AepClient, registry: Registry, spec: AepDatasetSpec
) -> AepDatasetResult:
    """Resolve and compile the schema, ensure the dataset, register it (see the module doc).

    Raises:
        SchemaNotFound, UnsupportedDatasetSchema, DatasetSchemaMismatch: setup-time errors
            naming the dataset; nothing was created.
    """
    schema = resolve_schema(client, spec)
    dataset = ensure_aep_dataset(client, spec, schema)
    return AepDatasetResult(dataset, register_aep_dataset(registry, spec, schema, dataset))


def resolve_schema(client: AepClient, spec: AepDatasetSpec) -> ResolvedSchema:
    """The dataset's schema, fetched in full and compiled (nothing is created here).

    Raises:
        SchemaNotFound: no schema has that ``$id`` / altId, or no single schema that title.
        UnsupportedDatasetSchema: the schema cannot be validated, is of another class, or its
            validator form is over :data:`MAX_VALIDATOR_BYTES`.
    """
    reference = spec.schema
    if not (_SCHEMA_ID.fullmatch(reference) or _SCHEMA_ALT_ID.fullmatch(reference)):
        titled = [s for s in client.list_schemas() if s.title == reference]
        if len(titled) != 1:
            problem = "no schema has" if not titled else f"{len(titled)} schemas have"
            raise SchemaNotFound(
                f"AEP dataset {spec.name}: {problem} the title {reference!r} in the tenant's "
                "Schema Registry (give its $id to be exact)"
            )
        reference = titled[0].id
    try:
        full = client.get_schema(reference)
    except AepNotFound:
        raise SchemaNotFound(
            f"AEP dataset {spec.name}: schema {reference} is not in the tenant's Schema Registry"
        ) from None
    schema_id = str(full.get("$id") or reference)
    try:
        form = compile_schema(full)
    except UnsupportedSchema as error:
        raise UnsupportedDatasetSchema(
            f"AEP dataset {spec.name}: schema {schema_id} cannot be validated before upload: "
            f"{error}"
        ) from None
    size = len(form.to_json().encode("utf-8"))
    if size > MAX_VALIDATOR_BYTES:
        raise UnsupportedDatasetSchema(
            f"AEP dataset {spec.name}: the validator form of schema {schema_id} is {size} bytes, "
            f"over the {MAX_VALIDATOR_BYTES} a registry entry holds; use a smaller schema"
        )
    return ResolvedSchema(schema_id, _dataset_class(full, spec, schema_id), form)


def _dataset_class(full: Mapping[str, Any], spec: AepDatasetSpec, schema_id: str) -> str:
    """``profile`` / ``experience_event``, by the one rule the dry-run uses too."""
    try:
        return str(dataset_class(full))
    except SchemaNotUsable:
        xdm_class = full.get("meta:class")
        raise UnsupportedDatasetSchema(
            f"AEP dataset {spec.name}: schema {schema_id} is of class {xdm_class or '<none>'}; "
            "only XDM Individual Profile and ExperienceEvent datasets are supported"
        ) from None


def ensure_aep_dataset(
    client: AepClient, spec: AepDatasetSpec, schema: ResolvedSchema
) -> ItemResult:
    """The dataset named ``spec.name`` for ``schema``: found by listing, else created; Profile /
    Identity enabled by JSON Patch when asked for and not yet on.

    Raises:
        DatasetSchemaMismatch: datasets of that name exist, none for this schema.
    """
    named = [d for d in client.list_datasets(name=spec.name) if d.name == spec.name]
    if not named:
        dataset_id = client.create_dataset(
            spec.name,
            schema.id,
            profile=spec.profile_enabled,
            identity=spec.identity_enabled,
        )
        logger.info(
            "AEP dataset created", extra={"aep_dataset": spec.name, "dataset_id": dataset_id}
        )
        return _dataset_result(
            spec, schema, dataset_id, Outcome.CREATED, spec.profile_enabled, spec.identity_enabled
        )
    existing = _the_one_for(named, spec, schema)
    add_profile = spec.profile_enabled and not existing.profile_enabled
    add_identity = spec.identity_enabled and not existing.identity_enabled
    if add_profile or add_identity:
        client.enable_profile(existing.id, profile=add_profile, identity=add_identity)
        logger.info(
            "AEP dataset enabled",
            extra={"aep_dataset": spec.name, "profile": add_profile, "identity": add_identity},
        )
    return _dataset_result(
        spec,
        schema,
        existing.id,
        Outcome.UPDATED if add_profile or add_identity else Outcome.UNCHANGED,
        existing.profile_enabled or add_profile,
        existing.identity_enabled or add_identity,
    )


def _the_one_for(named: list[Dataset], spec: AepDatasetSpec, schema: ResolvedSchema) -> Dataset:
    matching = [d for d in named if d.schema_id == schema.id]
    if not matching:
        others = ", ".join(sorted({d.schema_id or "<none>" for d in named}))
        raise DatasetSchemaMismatch(
            f"AEP dataset {spec.name} exists for schema {others}, the config says {schema.id}; "
            "a dataset cannot change schema (rename it in the config, or delete the dataset)"
        )
    # AEP does not keep names unique; the oldest is the one earlier runs registered.
    return min(matching, key=lambda d: (d.created is None, d.created or 0, d.id))


def _dataset_result(
    spec: AepDatasetSpec,
    schema: ResolvedSchema,
    dataset_id: str,
    outcome: Outcome,
    profile: bool,
    identity: bool,
) -> ItemResult:
    return ItemResult(
        ItemKind.AEP_DATASET,
        spec.name,
        dataset_id,
        outcome,
        {
            "schemaId": schema.id,
            "datasetClass": schema.dataset_class,
            "profileEnabled": profile,
            "identityEnabled": identity,
        },
    )


def register_aep_dataset(
    registry: Registry, spec: AepDatasetSpec, schema: ResolvedSchema, dataset: ItemResult
) -> ItemResult:
    """Write the dataset's ``aep_dataset`` entry (only when it changed); its registry result.

    Attributes, all strings: ``schema_id``, ``dataset_class``, ``validator``
    (:meth:`ValidatorForm.to_json`), ``partial_ingestion_percent`` and ``profile_enabled``
    (whether the dataset is Profile-enabled now); ``aep_secret_id`` (:data:`AEP_SECRET_ATTRIBUTE`)
    for a dataset of a non-default account only, so a default account's entry is as before.
    """
    attributes = {
        "schema_id": schema.id,
        "dataset_class": schema.dataset_class,
        "validator": schema.form.to_json(),
        "partial_ingestion_percent": percent_text(spec.partial_ingestion_percent),
        "profile_enabled": "true" if dataset.attributes.get("profileEnabled") else "false",
    }
    if spec.aep_secret_id is not None:
        attributes[AEP_SECRET_ATTRIBUTE] = spec.aep_secret_id
    return put_if_changed(registry, AEP_DATASET, spec.name, dataset.id, attributes)


def percent_text(value: float) -> str:
    """``partialIngestionPercent`` as the registry stores it: ``"0"``, ``"5"``, ``"2.5"``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
