"""ADM endpoints: onboarding, audience datasets, members, sharing rules, identity deletion."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.sandbox.sandbox_http import DELETION_JSON, METRICS_JSON, Api


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def member(
    user: str,
    action: str = "CREATE",
    *,
    amzn: dict[str, str] | None = None,
    country: str | None = None,
    **pii: str,
) -> dict[str, Any]:
    """A member with hashed PII (``em=...`` etc. are hashed here unless already hashed)."""
    result: dict[str, Any] = {
        "action": action,
        "externalUserId": user,
        "userIdentity": {"hashedPiis": [{key: sha(value) for key, value in pii.items()}]},
    }
    consent: dict[str, Any] = {}
    if amzn is not None:
        consent["consent"] = {"amzn": amzn}
    if country is not None:
        consent["geo"] = {"countryCode": country}
    if consent:
        result["userConsent"] = consent
    return result


GRANTED = {"amznAdStorage": "GRANTED", "amznUserData": "GRANTED"}


# -- terms and data room -------------------------------------------------------------------


def test_terms_are_not_accepted_until_patched_with_the_agreement_token(api: Api) -> None:
    terms = api.call("GET", "/adm/terms").json()
    assert terms["hasAccepted"] is False

    wrong = api.call("PATCH", "/adm/terms", {"agreementToken": "guess", "hasAccepted": True})
    assert wrong.status_code == 400
    assert api.call("GET", "/adm/terms").json()["hasAccepted"] is False

    right = {"agreementToken": terms["agreementToken"], "hasAccepted": True}
    assert api.call("PATCH", "/adm/terms", right).status_code == 204
    assert api.call("GET", "/adm/terms").json()["hasAccepted"] is True
    assert api.sandbox.state()["terms"] == {"hasAccepted": True}


def test_data_room_needs_the_terms_accepted(api: Api) -> None:
    response = api.call("POST", "/adm/datarooms")

    assert response.status_code == 403
    assert response.json()["code"] == "TermsNotAccepted"


def test_one_data_room_per_manager_account(api: Api) -> None:
    assert api.call("GET", "/adm/datarooms").status_code == 404
    api.onboard()

    room = api.call("GET", "/adm/datarooms").json()
    again = api.call("POST", "/adm/datarooms")

    assert room["accountId"] == api.sandbox.account.manager_account_id
    assert again.status_code == 400
    assert again.json()["code"] == "DataRoomAlreadyExists"


def test_datasets_need_a_data_room(api: Api) -> None:
    response = api.call("POST", "/adm/audiences", {"name": "CrmAudience", "countryCode": "US"})

    assert response.status_code == 403
    assert response.json()["code"] == "DataRoomNotFound"


# -- audience datasets ---------------------------------------------------------------------


def test_create_and_get_an_audience_dataset(onboarded: Api) -> None:
    created = onboarded.call(
        "POST",
        "/adm/audiences",
        {"name": "Crm_Audience-1", "countryCode": "GB", "description": "CRM loyalty members"},
    )
    assert created.status_code == 201
    dataset_id = created.json()["dataSetId"]

    fetched = onboarded.call("GET", f"/adm/audiences/{dataset_id}").json()

    assert fetched["name"] == "Crm_Audience-1"
    assert fetched["countryCode"] == "GB"
    assert fetched["description"] == "CRM loyalty members"
    assert fetched["dataSetType"] == "AUDIENCE"


def test_duplicate_dataset_name_returns_the_existing_dataset_id(onboarded: Api) -> None:
    first = onboarded.create_audience("CrmAudience")

    again = onboarded.call("POST", "/adm/audiences", {"name": "CrmAudience", "countryCode": "US"})

    assert again.status_code == 400
    assert again.json()["code"] == "DuplicateDatasetName"
    assert again.json()["datasetId"] == first
    assert len(onboarded.sandbox.state()["datasets"]) == 1


def test_dataset_name_must_follow_the_documented_pattern(onboarded: Api) -> None:
    for bad_name in ("1starts-with-digit", "abc", "has space here"):
        response = onboarded.call("POST", "/adm/audiences", {"name": bad_name, "countryCode": "US"})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "BadRequestException"
        assert any(error["errorMessage"].startswith("body.name") for error in body["errors"])


def test_unknown_dataset_is_404(onboarded: Api) -> None:
    response = onboarded.call("GET", "/adm/audiences/amzn1.adm.dataset.nope")

    assert response.status_code == 404
    assert response.json()["code"] == "ResourceNotFoundException"


def test_audience_listing_pages_with_next_token_and_limit(onboarded: Api) -> None:
    created = [onboarded.create_audience(f"Audience{n:02d}") for n in range(5)]

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if token:
            params["nextToken"] = token
        body = onboarded.call("GET", "/adm/audiences", params=params).json()
        seen += [dataset["dataSetId"] for dataset in body["dataSets"]]
        pages += 1
        token = body.get("nextToken")
        if token is None:
            break

    assert seen == created
    assert pages == 3


def test_a_malformed_next_token_is_400(onboarded: Api) -> None:
    response = onboarded.call("GET", "/adm/audiences", params={"nextToken": "not-a-token"})

    assert response.status_code == 400


def test_delete_dataset_removes_it_and_revokes_its_sharing_rules(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    rule_id = _share(onboarded, dataset_id).json()["sharingRuleId"]

    assert onboarded.call("DELETE", f"/adm/datasets/{dataset_id}").status_code == 204

    state = onboarded.sandbox.state()
    assert dataset_id not in state["datasets"]
    assert state["sharingRules"][rule_id]["status"] == "REVOKED_BY_DATASET"
    assert onboarded.call("GET", f"/adm/audiences/{dataset_id}").status_code == 404


def test_dataset_details_metrics_and_data_room_metadata(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.members(dataset_id, [member("u1", em="a@example.com"), member("u2", ph="+15551234")])
    _share(onboarded, dataset_id)

    details = onboarded.call(
        "POST", "/adm/datasets/list", {"datasetIds": [dataset_id]}, content_type=METRICS_JSON
    ).json()["datasets"]
    metrics = onboarded.call("GET", f"/adm/datasets/{dataset_id}/metrics").json()
    metadata = onboarded.call("GET", "/adm/datarooms/metadata").json()
    aggregates = onboarded.call(
        "POST",
        f"/adm/datasets/{dataset_id}/metrics/aggregates",
        {"metrics": ["RECEIVED", "VALID"]},
        content_type=METRICS_JSON,
    ).json()

    assert [(d["datasetId"], d["records"], d["activeDestinations"]) for d in details] == [
        (dataset_id, 2, 1)
    ]
    assert metrics["acceptedCount"] == 2
    assert metadata == {
        "activeDestinations": 1, "dataSetsInUse": 1, "linkedAccounts": 1, "totalDataSets": 1
    }  # fmt: skip
    assert [sum(series.values()) for series in aggregates["metrics"].values()] == [2.0, 2.0]


def test_metrics_match_a_deterministic_share_of_the_members_held(onboarded: Api) -> None:
    from adm_local.sandbox.state import resolves

    dataset_id = onboarded.create_audience()
    created = [member(f"u{n}", em=f"person{n}@example.com") for n in range(50)]
    onboarded.members(dataset_id, created)
    removed = created[:10]
    onboarded.members(dataset_id, [{**m, "action": "DELETE", "userConsent":
                                    {"consent": {"amzn": GRANTED}}} for m in removed])  # fmt: skip

    metrics = onboarded.call("GET", f"/adm/datasets/{dataset_id}/metrics")

    assert metrics.status_code == 200  # and valid: the sandbox checks what it sends
    assert metrics.headers["Content-Type"].startswith(METRICS_JSON)
    body = metrics.json()
    held = created[10:]
    resolved = sum(resolves(m) for m in held)
    assert 0 < resolved < len(held)  # ~70 %: some, not all
    assert (body["recordsWithIdentity"], body["recordsResolved"]) == (len(held), resolved)
    assert body["matchRecordPercentage"] == round(100 * resolved / len(held), 2)
    assert body["acceptedCount"] == 60 and body["uploadCount"] == 2


# -- members -------------------------------------------------------------------------------


def test_members_create_are_stored_by_external_user_id(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    response = onboarded.members(
        dataset_id, [member("crm-1", em="a@example.com"), member("crm-2", em="b@example.com")]
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.admAudiences.v1+json"
    assert "errors" not in response.json()
    stored = onboarded.sandbox.state()["datasets"][dataset_id]
    assert stored["memberCount"] == 2
    assert stored["members"]["crm-1"]["userIdentity"]["hashedPiis"] == [
        {"em": sha("a@example.com")}
    ]


def test_member_delete_needs_granted_amazon_consent_else_is_ignored(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    onboarded.members(dataset_id, [member("crm-1", em="a"), member("crm-2", em="b")])

    ignored = onboarded.members(dataset_id, [member("crm-1", "DELETE")])
    applied = onboarded.members(
        dataset_id, [member("crm-2", "DELETE", amzn={"amznUserData": "GRANTED"})]
    )

    assert ignored.status_code == applied.status_code == 200
    assert "errors" not in ignored.json()
    stored = onboarded.sandbox.state()["datasets"][dataset_id]
    assert set(stored["members"]) == {"crm-1"}
    assert stored["ignoredDeletes"] == 1


def test_per_member_errors_carry_the_zero_based_index(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience(country="US")
    unhashed = member("crm-2")
    unhashed["userIdentity"]["hashedPiis"] = [{"em": "jane.doe@example.com"}]
    batch = [
        member("crm-1", em="ok@example.com"),
        unhashed,
        {"action": "CREATE", "externalUserId": "crm-3", "userIdentity": {}},
        member("crm-4", country="DE", em="de@example.com"),
        member("crm-5", country="DE", amzn=GRANTED, em="de2@example.com"),
    ]

    response = onboarded.members(dataset_id, batch)

    assert response.status_code == 200
    errors = {error["index"]: error["code"] for error in response.json()["errors"]}
    assert errors == {1: "INVALID_HASHED_PII", 2: "MISSING_IDENTITY", 3: "MISSING_CONSENT"}
    assert "jane.doe@example.com" not in response.text
    assert set(onboarded.sandbox.state()["datasets"][dataset_id]["members"]) == {"crm-1", "crm-5"}


def test_members_need_their_vendor_content_type(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    response = onboarded.call(
        "POST", f"/adm/audiences/{dataset_id}/members", {"members": [member("u", em="x")]}
    )

    assert response.status_code == 415
    assert "application/vnd.admAudiences.v1+json" in response.json()["message"]


def test_schema_invalid_members_body_is_400_with_the_documented_error_body(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    bad = member("crm-1", em="x")
    bad["action"] = "UPSERT"
    bad["userIdentity"]["hashedPII"] = "the seed guide's wrong field name is merely ignored"
    del bad["externalUserId"]

    response = onboarded.members(dataset_id, [bad])

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "details", "message", "errors"}
    assert {error["errorType"] for error in body["errors"]} == {"BadRequestException"}
    messages = sorted(error["errorMessage"] for error in body["errors"])
    assert messages == [
        "body.members[0].action: must be one of CREATE, DELETE",
        "body.members[0]: missing required property 'externalUserId'",
    ]


def test_body_that_is_not_json_is_400(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    response = onboarded.session.post(
        f"{onboarded.sandbox.url}/adm/audiences/{dataset_id}/members",
        data=b'{"members": [',
        headers={"Content-Type": "application/vnd.admAudiences.v1+json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["message"] == "request body is not valid JSON"


def test_raw_pii_in_a_wrongly_typed_field_is_not_echoed(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    bad = member("crm-1")
    bad["userIdentity"]["hashedPiis"] = [{"em": ["jane.doe@example.com"]}]

    response = onboarded.members(dataset_id, [bad])

    assert response.status_code == 400
    assert "jane.doe" not in response.text
    assert "hashedPiis[0].em: violates type 'string'" in response.text


# -- sharing rules -------------------------------------------------------------------------


def _share(api: Api, dataset_id: str, **overrides: Any) -> Any:
    body = {
        "application": "DSP_AUDIENCES",
        "dataSetId": dataset_id,
        "destinationAccountId": api.sandbox.account.advertiser_account_id,
        "marketplaceId": api.sandbox.account.marketplace_id,
        "metadata": {"audienceMetadata": {"audienceName": "CRM loyalty members"}},
        **overrides,
    }
    return api.call("POST", "/adm/sharingRules", body)


def test_new_sharing_rules_are_active_and_revoke_makes_them_revoked(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    created = _share(onboarded, dataset_id)
    assert created.status_code == 200
    rule = created.json()
    assert rule["status"] == "ACTIVE"
    assert rule["metadata"]["audienceMetadata"]["audienceName"] == "CRM loyalty members"

    revoke = onboarded.call("PATCH", f"/adm/sharingRules/{rule['sharingRuleId']}/revoke")

    assert revoke.status_code == 204
    listed = onboarded.call("POST", "/adm/sharingRules/list", {"maxResults": 10}).json()
    assert [r["status"] for r in listed["sharingRules"]] == ["REVOKED_BY_USER"]


def test_sharing_rule_with_the_seed_guides_field_names_is_400(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()
    body = {
        "applicationId": "DSP_AUDIENCES",  # the OpenAPI says "application"
        "dataSetId": dataset_id,
        "destinationAccountId": onboarded.sandbox.account.advertiser_account_id,
        "marketplaceId": "ATVPDKIKX0DER",
        "metadata": {"audienceMetadata": {"audienceName": "CRM loyalty members"}},
    }

    response = onboarded.call("POST", "/adm/sharingRules", body)

    assert response.status_code == 400
    assert "missing required property 'application'" in response.text


def test_sharing_rule_needs_metadata_fitting_its_application(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    response = _share(onboarded, dataset_id, metadata={"amcMetadata": {"amcInstanceId": "amc-1"}})

    assert response.status_code == 400


def test_sharing_to_an_unlinked_account_is_403(onboarded: Api) -> None:
    dataset_id = onboarded.create_audience()

    assert _share(onboarded, dataset_id, destinationAccountId="ADV-OTHER").status_code == 403


def test_sharing_rules_list_filters_and_pages(onboarded: Api) -> None:
    first, second = onboarded.create_audience("AudienceA"), onboarded.create_audience("AudienceB")
    rules = [_share(onboarded, first).json()["sharingRuleId"] for _ in range(3)]
    _share(onboarded, second)
    onboarded.call("PATCH", f"/adm/sharingRules/{rules[0]}/revoke")

    page_one = onboarded.call(
        "POST",
        "/adm/sharingRules/list",
        {"datasetIds": [first], "statuses": ["ACTIVE"], "maxResults": 1},
    ).json()
    page_two = onboarded.call(
        "POST",
        "/adm/sharingRules/list",
        {"datasetIds": [first], "statuses": ["ACTIVE"], "maxResults": 1,
         "nextToken": page_one["nextToken"]},
    ).json()  # fmt: skip

    assert [r["sharingRuleId"] for r in page_one["sharingRules"]] == [rules[1]]
    assert [r["sharingRuleId"] for r in page_two["sharingRules"]] == [rules[2]]
    assert "nextToken" not in page_two


def test_revoke_needs_the_manager_account_header(onboarded: Api) -> None:
    rule_id = _share(onboarded, onboarded.create_audience()).json()["sharingRuleId"]
    del onboarded.session.headers["Amazon-Ads-Manager-Account-ID"]

    response = onboarded.call("PATCH", f"/adm/sharingRules/{rule_id}/revoke")

    assert response.status_code == 400


# -- identities and manager accounts -------------------------------------------------------


def test_identity_deletion_records_the_target_identities(onboarded: Api) -> None:
    targets = [
        {"externalUserId": "crm-1"},
        {"identity": {"hashedPiis": [{"em": sha("a@example.com")}]}},
    ]

    response = onboarded.call(
        "POST", "/adm/identities/delete", {"targetIdentities": targets}, content_type=DELETION_JSON
    )

    assert response.status_code == 200
    assert onboarded.sandbox.state()["identityDeletions"] == targets


def test_identity_deletion_allows_at_most_1000_targets(onboarded: Api) -> None:
    targets = [{"externalUserId": f"crm-{n}"} for n in range(1001)]

    response = onboarded.call(
        "POST", "/adm/identities/delete", {"targetIdentities": targets}, content_type=DELETION_JSON
    )

    assert response.status_code == 400
    assert "violates maxItems 1000" in response.text


def test_manager_accounts_lists_the_seeded_account_and_advertiser(api: Api) -> None:
    response = api.call("GET", "/managerAccounts")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.getmanageraccountsresponse.v1+json"
    [manager] = response.json()["managerAccounts"]
    assert manager["managerAccountId"] == api.sandbox.account.manager_account_id
    assert manager["linkedAccounts"][0]["accountId"] == api.sandbox.account.advertiser_account_id
    assert manager["linkedAccounts"][0]["profileId"] == api.sandbox.account.profile_id


def test_every_response_carries_a_request_id(api: Api) -> None:
    ok, failed = api.call("GET", "/adm/terms"), api.call("GET", "/adm/datarooms")

    assert ok.headers["Amazon-Advertising-API-RequestId"]
    assert failed.headers["Amazon-Advertising-API-RequestId"]
    assert (
        ok.headers["Amazon-Advertising-API-RequestId"]
        != (failed.headers["Amazon-Advertising-API-RequestId"])
    )


def test_unknown_path_is_404_and_wrong_method_is_405(api: Api) -> None:
    assert api.call("GET", "/adm/nothing-here").status_code == 404
    assert api.call("PUT", "/adm/terms").status_code == 405
