"""Typed results of the AEP client's calls, built from Adobe's JSON with ``from_api``.

Catalog answers objects keyed by id (``{"<id>": {...}}``); :func:`keyed_by_id` turns them into
``(id, document)`` pairs. ``raw`` keeps the whole document (excluded from equality and repr).
Times are Adobe's epoch **milliseconds**.

:class:`RowError` keeps codes and positions only: a row error file also carries the refused row
itself (``_corrupt_record``, the row's fields), and rows hold PII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Raw = Mapping[str, Any]

SUCCESS_STATES = frozenset({"success", "active"})
"""Adobe uses "success" and "active" interchangeably."""
FAILED_STATES = frozenset({"failed", "failure"})
FINAL_STATES = SUCCESS_STATES | FAILED_STATES | {"aborted", "abandoned", "inactive", "deleted"}

_DATASET_REF = re.compile(r"^@/dataSets/(?P<id>[^/?#]+)$")


def keyed_by_id(body: Raw) -> Iterator[tuple[str, Raw]]:
    """``(id, document)`` for each entry of a Catalog answer keyed by id (non-objects skipped)."""
    for key, value in body.items():
        if isinstance(value, Mapping):
            yield str(key), value


def dataset_id_from_refs(refs: Any) -> str:
    """The id in Catalog's ``["@/dataSets/<id>"]`` answer; ValueError when there is none."""
    if isinstance(refs, list):
        for ref in refs:
            found = _DATASET_REF.match(str(ref))
            if found:
                return found.group("id")
    raise ValueError("Catalog's answer holds no @/dataSets/<id> reference")


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A Catalog dataset: its id, name and schema, and whether Profile ingests it."""

    id: str
    name: str
    schema_id: str | None
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    created: int | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, dataset_id: str, body: Raw) -> Dataset:
        schema_ref = body.get("schemaRef")
        tags = body.get("tags")
        return cls(
            id=dataset_id,
            name=str(body.get("name") or ""),
            schema_id=_str(schema_ref.get("id")) if isinstance(schema_ref, Mapping) else None,
            tags={
                str(key): tuple(str(item) for item in values)
                for key, values in (tags.items() if isinstance(tags, Mapping) else ())
                if isinstance(values, list)
            },
            created=_int(body.get("created")),
            raw=body,
        )

    @property
    def profile_enabled(self) -> bool:
        """Whether the ``unifiedProfile`` tag says ``enabled:true`` (spaces tolerated)."""
        return self._tag_enabled("unifiedProfile")

    @property
    def identity_enabled(self) -> bool:
        """Whether the ``unifiedIdentity`` tag says ``enabled:true`` (spaces tolerated)."""
        return self._tag_enabled("unifiedIdentity")

    def _tag_enabled(self, tag: str) -> bool:
        # Adobe's own OpenAPI example writes "enabled: true"; the guides "enabled:true".
        values = self.tags.get(tag, ())
        return any(value.replace(" ", "").lower() == "enabled:true" for value in values)


@dataclass(frozen=True, slots=True)
class SchemaSummary:
    """One entry of a Schema Registry listing (``Accept: application/vnd.adobe.xed-id+json``)."""

    id: str
    """The schema's ``$id``."""
    alt_id: str | None
    title: str
    version: str | None = None

    @classmethod
    def from_api(cls, body: Raw) -> SchemaSummary:
        return cls(
            id=str(body.get("$id") or ""),
            alt_id=_str(body.get("meta:altId")),
            title=str(body.get("title") or ""),
            version=_str(body.get("version")),
        )


@dataclass(frozen=True, slots=True)
class BatchError:
    """One error on a batch (``INGEST-1212-400``…); ``record_count`` when diagnostics are on."""

    code: str
    description: str
    record_count: int | None = None

    @classmethod
    def from_api(cls, body: Raw) -> BatchError:
        return cls(
            code=str(body.get("code") or "UNKNOWN"),
            description=str(body.get("description") or body.get("message") or "")[:500],
            record_count=_int(body.get("recordCount")),
        )


@dataclass(frozen=True, slots=True)
class BatchMetrics:
    """What promotion made of a batch (absent on failed batches: every count ``None``)."""

    input_record_count: int | None = None
    output_record_count: int | None = None
    failed_record_count: int | None = None
    input_file_count: int | None = None
    input_byte_size: int | None = None

    @classmethod
    def from_api(cls, body: Raw) -> BatchMetrics:
        return cls(
            input_record_count=_int(body.get("inputRecordCount")),
            output_record_count=_int(body.get("outputRecordCount")),
            failed_record_count=_int(body.get("failedRecordCount")),
            input_file_count=_int(body.get("inputFileCount")),
            input_byte_size=_int(body.get("inputByteSize")),
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch: its status (``loading`` … ``success``/``failed``), metrics and errors."""

    id: str
    status: str
    external_id: str | None = None
    dataset_id: str | None = None
    metrics: BatchMetrics = field(default_factory=BatchMetrics)
    errors: tuple[BatchError, ...] = ()
    created: int | None = None
    updated: int | None = None
    raw: Raw = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: Raw, batch_id: str | None = None) -> Batch:
        """From a batch document (``batch_id`` when it came keyed by id, without an ``id``)."""
        metrics = body.get("metrics")
        errors = body.get("errors")
        related = body.get("relatedObjects")
        dataset_id = None
        if isinstance(related, list):
            dataset_id = next(
                (
                    _str(item.get("id"))
                    for item in related
                    if isinstance(item, Mapping) and item.get("type") == "dataSet"
                ),
                None,
            )
        return cls(
            id=str(body.get("id") or batch_id or ""),
            status=str(body.get("status") or "").lower(),
            external_id=_str(body.get("externalId")),
            dataset_id=dataset_id,
            metrics=BatchMetrics.from_api(metrics)
            if isinstance(metrics, Mapping)
            else BatchMetrics(),
            errors=tuple(
                BatchError.from_api(item)
                for item in (errors if isinstance(errors, list) else ())
                if isinstance(item, Mapping)
            ),
            created=_int(body.get("created")),
            updated=_int(body.get("updated")),
            raw=body,
        )

    @property
    def is_final(self) -> bool:
        """Whether the batch will not change status any more (poll no further)."""
        return self.status in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        """``success`` or its synonym ``active``."""
        return self.status in SUCCESS_STATES


@dataclass(frozen=True, slots=True)
class MetaFile:
    """A file in a batch's Data Access listing (``row_errors/…``, failed files)."""

    name: str
    length: int | None
    href: str | None = None

    @classmethod
    def from_api(cls, body: Raw) -> MetaFile:
        links = body.get("_links")
        self_link = links.get("self") if isinstance(links, Mapping) else None
        return cls(
            name=str(body.get("name") or ""),
            length=_int(body.get("length")),
            href=_str(self_link.get("href")) if isinstance(self_link, Mapping) else None,
        )


_QUOTED = re.compile(r"\[[^\]]*\]|'[^']*'|\"[^\"]*\"")
"""Bracketed or quoted spans: where Adobe's messages echo the refused value."""


def _value_free(message: Any) -> str:
    # "[2018-00-23T22:07:01Z] is not a valid date-time" quotes the value; keep only the rule.
    return _QUOTED.sub("…", str(message or ""))[:300]


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one refused row, located by part file and 0-based row position.

    ``file`` is the uploaded part file and ``row_index`` the row's 0-based position in it when
    the error record says so, else ``None``: Adobe documents only ``_errors`` and ``_filename``
    (the diagnostics file), so the location is read from ``_input_file`` / ``_input_line``
    (1-based; the local AEP sandbox's extension) when present. ``error_file`` is the
    diagnostics file it came from. ``message`` has bracketed and quoted spans (echoed values)
    removed; ``path`` is the failing field when given. A row with several problems yields
    several RowErrors with the same location.
    """

    file: str | None
    row_index: int | None
    code: str
    message: str
    path: str | None = None
    error_file: str | None = None

    @classmethod
    def from_api(cls, record: Raw, *, error_file: str) -> list[RowError]:
        """Every problem in one line of a ``row_errors`` file (values dropped)."""
        line = _int(record.get("_input_line"))
        file = _str(record.get("_input_file"))
        problems = record.get("_errors")
        if not isinstance(problems, list):
            problems = record.get("_validationErrors")
        found: list[RowError] = []
        for problem in problems if isinstance(problems, list) else ():
            if not isinstance(problem, Mapping):
                continue
            path = problem.get("path") or problem.get("pointerToViolation")
            found.append(
                cls(
                    file=file,
                    row_index=line - 1 if line is not None and line > 0 else None,
                    code=str(problem.get("code") or problem.get("keyword") or "UNKNOWN")[:64],
                    message=_value_free(problem.get("message")),
                    path=_str(path),
                    error_file=error_file,
                )
            )
        return found
