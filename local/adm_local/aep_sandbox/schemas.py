"""The two seeded XDM schemas, in the Schema Registry's resolved (``xed-full``) form.

An Individual Profile schema (person name, personal email, mobile phone, home address,
``identityMap`` and a ``_<tenant>`` loyalty field group) and an ExperienceEvent schema (``_id``
and ``timestamp`` required, as the class requires them). ``identityMap`` is required in the
profile schema: a sandbox choice, since a profile record without an identity cannot reach
Profile. The registry answers raw (``xed+json``) requests with the class and field groups as
``allOf`` references, resolved ones with ``properties``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"
PROFILE_SCHEMA_KEY = "5f1d2e3c4b5a69788796a5b4c3d2e1f0"
EVENT_SCHEMA_KEY = "9e8d7c6b5a4938271605f4e3d2c1b0a9"


def _string(**constraints: Any) -> dict[str, Any]:
    return {"type": "string", "meta:xdmType": "string", **constraints}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "meta:xdmType": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_BOOLEAN = {"type": "boolean", "meta:xdmType": "boolean"}
_DATE_TIME = {"type": "string", "format": "date-time", "meta:xdmType": "date-time"}

IDENTITY_MAP: dict[str, Any] = {
    "type": "object",
    "meta:xdmType": "map",
    "additionalProperties": {
        "type": "array",
        "items": _object(
            {
                "id": _string(),
                "primary": _BOOLEAN,
                "authenticatedState": _string(enum=["ambiguous", "authenticated", "loggedOut"]),
            },
            "id",
        ),
    },
}


@dataclass(frozen=True)
class SeededSchema:
    """One schema of the tenant's registry."""

    key: str
    title: str
    xdm_class: str
    field_groups: tuple[str, ...]
    properties: dict[str, Any]
    required: tuple[str, ...]
    tenant: str

    @property
    def id(self) -> str:
        return f"https://ns.adobe.com/{self.tenant}/schemas/{self.key}"

    @property
    def alt_id(self) -> str:
        return f"_{self.tenant}.schemas.{self.key}"

    def _header(self) -> dict[str, Any]:
        return {
            "$id": self.id,
            "meta:altId": self.alt_id,
            "meta:resourceType": "schemas",
            "version": "1.0",
            "title": self.title,
            "type": "object",
            "description": f"Seeded by the AEP sandbox: {self.title}.",
            "meta:class": self.xdm_class,
            "meta:extends": [self.xdm_class, *self.field_groups],
        }

    def full(self, *, with_text: bool = True) -> dict[str, Any]:
        """The resolved form (``xed-full``); ``with_text=False`` drops titles / descriptions."""
        document = self._header() | {"properties": copy.deepcopy(self.properties)}
        if self.required:
            document["required"] = list(self.required)
        if not with_text:
            document.pop("title")
            document.pop("description")
        return document

    def raw(self) -> dict[str, Any]:
        """The stored form (``xed``): the class and field groups referenced, not inlined."""
        return self._header() | {
            "allOf": [{"$ref": ref} for ref in (self.xdm_class, *self.field_groups)]
        }

    def summary(self) -> dict[str, Any]:
        """A list entry (``xed-id``)."""
        return {"$id": self.id, "meta:altId": self.alt_id, "version": "1.0", "title": self.title}


def seeded_schemas(tenant: str) -> list[SeededSchema]:
    """The Profile and ExperienceEvent schemas of ``tenant``."""
    profile = SeededSchema(
        key=PROFILE_SCHEMA_KEY,
        title="adm-ingest Loyalty Profiles",
        xdm_class=PROFILE_CLASS,
        field_groups=(
            "https://ns.adobe.com/xdm/context/profile-person-details",
            "https://ns.adobe.com/xdm/context/profile-personal-details",
            f"https://ns.adobe.com/{tenant}/mixins/loyalty",
        ),
        properties={
            "_id": _string(),
            "person": _object(
                {
                    "name": _object(
                        {
                            "firstName": _string(),
                            "lastName": _string(),
                            "fullName": _string(),
                        }
                    ),
                    "birthDate": _string(format="date", **{"meta:xdmType": "date"}),
                }
            ),
            "personalEmail": _object({"address": _string(format="email"), "primary": _BOOLEAN}),
            "mobilePhone": _object({"number": _string(), "primary": _BOOLEAN}),
            "homeAddress": _object(
                {
                    "street1": _string(),
                    "city": _string(),
                    "stateProvince": _string(),
                    "postalCode": _string(maxLength=10),
                    "countryCode": _string(pattern="^[A-Z]{2}$", maxLength=2),
                }
            ),
            "identityMap": IDENTITY_MAP,
            f"_{tenant}": _object(
                {
                    "loyalty": _object(
                        {
                            "points": {
                                "type": "integer",
                                "meta:xdmType": "int",
                                "minimum": -2147483648,
                                "maximum": 2147483647,
                            },
                            "tier": _string(enum=["bronze", "silver", "gold"]),
                            "memberSince": _DATE_TIME,
                        }
                    )
                }
            ),
        },
        required=("identityMap",),
        tenant=tenant,
    )
    event = SeededSchema(
        key=EVENT_SCHEMA_KEY,
        title="adm-ingest Purchase Events",
        xdm_class=EVENT_CLASS,
        field_groups=(f"https://ns.adobe.com/{tenant}/mixins/order",),
        properties={
            "_id": _string(),
            "timestamp": _DATE_TIME,
            "eventType": _string(),
            "identityMap": IDENTITY_MAP,
            f"_{tenant}": _object(
                {
                    "order": _object(
                        {
                            "orderId": _string(),
                            "total": {"type": "number", "meta:xdmType": "number"},
                        }
                    )
                }
            ),
        },
        required=("_id", "timestamp"),
        tenant=tenant,
    )
    return [profile, event]
