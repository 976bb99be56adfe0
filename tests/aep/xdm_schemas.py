"""XDM schemas as the Schema Registry returns them with ``Accept: …xed-full+json; version=1``.

Shaped after Adobe's Individual Profile and ExperienceEvent classes (adobe/xdm): field groups
resolved into nested ``properties``, ``meta:*`` annotations, titles and descriptions left in so
that the tests show the form drops them.
"""

from __future__ import annotations

from typing import Any

TENANT = "_acmecorp"


def _text(title: str, **constraints: Any) -> dict[str, Any]:
    return {"title": title, "type": "string", "meta:xdmType": "string", **constraints}


IDENTITY_ITEM: dict[str, Any] = {
    "type": "object",
    "meta:xdmType": "object",
    "title": "Identity",
    "properties": {
        "id": _text("Identifier", description="Identity of the consumer in the namespace."),
        "authenticatedState": _text(
            "Authenticated state",
            enum=["ambiguous", "authenticated", "loggedOut"],
            default="ambiguous",
            **{"meta:enum": {"ambiguous": "Ambiguous", "authenticated": "Authenticated"}},
        ),
        "primary": {"title": "Primary", "type": "boolean", "meta:xdmType": "boolean"},
    },
    "required": ["id"],
}

IDENTITY_MAP: dict[str, Any] = {
    "title": "Identity map",
    "type": "object",
    "meta:xdmType": "map",
    "additionalProperties": {"type": "array", "items": IDENTITY_ITEM},
}

PROFILE_SCHEMA: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acmecorp/schemas/5a1b2c3d",
    "meta:altId": "_acmecorp.schemas.5a1b2c3d",
    "meta:resourceType": "schemas",
    "version": "1.2",
    "title": "Loyalty members",
    "type": "object",
    "description": "Profiles of the loyalty programme.",
    "meta:class": "https://ns.adobe.com/xdm/context/profile",
    "meta:extends": ["https://ns.adobe.com/xdm/context/profile"],
    "meta:xdmType": "object",
    "$schema": "http://json-schema.org/draft-06/schema#",
    "meta:registryMetadata": {"repo:createdDate": 1606266789446, "eTag": "2cc114a5"},
    "properties": {
        "_id": _text("Identifier", format="uri-reference", **{"meta:xdmField": "@id"}),
        "person": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "name": {
                    "type": "object",
                    "meta:xdmType": "object",
                    "properties": {
                        "firstName": _text("First name", maxLength=100),
                        "lastName": _text("Last name", maxLength=100),
                    },
                    "required": ["lastName"],
                },
                "birthDate": _text("Birth date", format="date", **{"meta:xdmType": "date"}),
                "gender": _text(
                    "Gender",
                    enum=["male", "female", "not_specified", "non_specific"],
                    **{"meta:enum": {"male": "Male", "female": "Female"}},
                ),
            },
        },
        "personalEmail": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "address": _text("Address", format="email"),
                "status": _text(
                    "Status",
                    # Suggested values only: no `enum`, so any status is accepted.
                    **{"meta:enum": {"active": "Active", "blocked": "Blocked"}},
                ),
            },
        },
        "mobilePhone": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {"number": _text("Number", pattern=r"^\+[1-9][0-9]{6,14}$")},
        },
        "homeAddress": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "street1": _text("Street 1"),
                "city": _text("City"),
                "stateProvince": _text("State or province", maxLength=3),
                "postalCode": _text("Postal code", minLength=3, maxLength=10),
                "countryCode": _text("Country code", pattern="^[A-Z]{2}$"),
            },
        },
        "identityMap": IDENTITY_MAP,
        "consents": {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "marketing": {
                    "type": "object",
                    "properties": {
                        "email": {
                            "type": "object",
                            "properties": {"val": _text("Choice", enum=["y", "n", "p", "u"])},
                            "required": ["val"],
                        }
                    },
                }
            },
        },
        TENANT: {
            "type": "object",
            "meta:xdmType": "object",
            "properties": {
                "loyalty": {
                    "type": "object",
                    "meta:xdmType": "object",
                    "properties": {
                        "points": {
                            "title": "Points",
                            "type": "integer",
                            "meta:xdmType": "int",
                            "minimum": 0,
                        },
                        "tier": _text("Tier", enum=["bronze", "silver", "gold"]),
                        "ratio": {"type": "number", "meta:xdmType": "double", "maximum": 1},
                        "active": {"type": "boolean", "meta:xdmType": "boolean"},
                        "joined": _text("Joined", format="date-time"),
                        "level": {"type": "integer", "meta:xdmType": "byte"},
                        "tags": {
                            "type": "array",
                            "items": _text("Tag", maxLength=20),
                            "maxItems": 5,
                        },
                    },
                }
            },
        },
    },
}

EVENT_SCHEMA: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acmecorp/schemas/9f8e7d6c",
    "title": "Store purchases",
    "type": "object",
    "meta:class": "https://ns.adobe.com/xdm/context/experienceevent",
    "meta:xdmType": "object",
    "properties": {
        "_id": _text("Identifier", format="uri-reference", **{"meta:xdmField": "@id"}),
        "timestamp": _text("Timestamp", format="date-time", **{"meta:xdmType": "date-time"}),
        "eventType": _text("Event type", **{"meta:enum": {"commerce.purchases": "Purchases"}}),
        "identityMap": IDENTITY_MAP,
        "commerce": {
            "type": "object",
            "properties": {
                "order": {
                    "type": "object",
                    "properties": {
                        "priceTotal": {"type": "number", "meta:xdmType": "double"},
                        "currencyCode": _text("Currency", pattern="^[A-Z]{3}$"),
                    },
                },
                "purchases": {
                    "type": "object",
                    "properties": {"value": {"type": "number", "minimum": 0}},
                },
            },
        },
    },
    "required": ["_id", "timestamp"],
}


def profile_row() -> dict[str, Any]:
    """A valid 10-field Profile row, as the XDM mapping step writes it."""
    return {
        "person": {"name": {"firstName": "Jane", "lastName": "Smith"}},
        "personalEmail": {"address": "jsmith@example.com"},
        "mobilePhone": {"number": "+14155550123"},
        "homeAddress": {
            "street1": "1 Main St",
            "city": "Springfield",
            "stateProvince": "IL",
            "postalCode": "62701",
            "countryCode": "US",
        },
        "identityMap": {"Email": [{"id": "jsmith@example.com", "primary": True}]},
        TENANT: {"loyalty": {"points": 1200, "tier": "gold"}},
    }


def event_row() -> dict[str, Any]:
    return {
        "_id": "3f6d2c9e0a1b",
        "timestamp": "2026-11-30T09:15:00.123Z",
        "eventType": "commerce.purchases",
        "identityMap": {"Email": [{"id": "jsmith@example.com", "primary": True}]},
        "commerce": {"order": {"priceTotal": 19.99, "currencyCode": "EUR"}},
    }
