"""AdmClient against the ADM sandbox over real HTTP: every endpoint, as a specification."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from adm_ingest.adm import (
    AdmClient,
    ApiError,
    DataRoom,
    DuplicateDatasetName,
    ItemError,
    NotFound,
    PayloadTooLarge,
)
from tests.client.client_support import sandbox_credentials, sandbox_settings


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def member(external_id: str, *, email: str | None = None, action: str = "CREATE") -> dict:
    identity = {"hashedPiis": [{"em": sha(email or f"{external_id}@example.com")}]}
    return {
        "action": action,
        "externalUserId": external_id,
        "userConsent": {"geo": {"countryCode": "US"}},
        "userIdentity": identity,
    }


def requests_to(sandbox: Any, method: str, path_prefix: str, *, expected: int = 1) -> list[Any]:
    """The sandbox's records of matching requests, waiting up to 1 s for ``expected`` of them.

    The sandbox records a request just after answering it, so the client may be faster.
    """
    give_up = time.monotonic() + 1.0
    while True:
        found = [
            r for r in sandbox.requests if r.method == method and r.path.startswith(path_prefix)
        ]
        if len(found) >= expected or time.monotonic() > give_up:
            return found
        time.sleep(0.01)


@pytest.fixture
def new_client(new_sandbox: Any) -> Iterator[AdmClient]:
    """A client for an account that has not accepted the ADM terms yet."""
    with AdmClient(sandbox_settings(new_sandbox), sandbox_credentials(new_sandbox)) as client:
        yield client


def test_terms_are_accepted_with_the_agreement_token(new_client: AdmClient) -> None:
    terms = new_client.get_terms()
    assert terms.has_accepted is False
    assert terms.agreement_token
    new_client.accept_terms(terms.agreement_token)
    assert new_client.get_terms().has_accepted is True


def test_data_room_is_absent_then_created_once(new_client: AdmClient, new_sandbox: Any) -> None:
    new_client.accept_terms(new_client.get_terms().agreement_token or "")
    assert new_client.get_data_room() is None
    created = new_client.create_data_room()
    assert isinstance(created, DataRoom)
    assert created.account_id == new_sandbox.account.manager_account_id
    assert new_client.get_data_room() == created
    with pytest.raises(ApiError) as second:
        new_client.create_data_room()
    assert second.value.status == 400
    assert second.value.code == "DataRoomAlreadyExists"
    assert second.value.request_id
    assert len(requests_to(new_sandbox, "POST", "/adm/datarooms", expected=2)) == 2


def test_data_room_metadata_counts_datasets(adm_client: AdmClient) -> None:
    before = adm_client.get_data_room_metadata().total_data_sets
    adm_client.create_audience("Metadata_one", "US")
    adm_client.create_audience("Metadata_two", "US")
    assert adm_client.get_data_room_metadata().total_data_sets == before + 2


# -- audiences and members --------------------------------------------------------------


def test_audience_is_created_read_and_deleted(adm_client: AdmClient) -> None:
    created = adm_client.create_audience(
        "Loyal_customers", "US", description="CRM tier 1", id_retention=True
    )
    assert created.data_set_id
    assert (created.name, created.country_code, created.description) == (
        "Loyal_customers",
        "US",
        "CRM tier 1",
    )
    assert adm_client.get_audience(created.data_set_id) == created
    adm_client.delete_dataset(created.data_set_id)
    with pytest.raises(NotFound):
        adm_client.get_audience(created.data_set_id)


def test_duplicate_audience_name_names_the_existing_dataset(adm_client: AdmClient) -> None:
    first = adm_client.create_audience("Lapsed_buyers", "US")
    with pytest.raises(DuplicateDatasetName) as duplicate:
        adm_client.create_audience("Lapsed_buyers", "US")
    assert duplicate.value.dataset_id == first.data_set_id
    assert duplicate.value.status == 400


def test_list_audiences_follows_next_token(adm_client: AdmClient, sandbox: Any) -> None:
    names = {f"Segment_{n:02d}" for n in range(7)}
    for name in sorted(names):
        adm_client.create_audience(name, "US")
    listed = list(adm_client.list_audiences(page_size=3))
    assert {dataset.name for dataset in listed} == names
    assert len(listed) == 7
    pages = requests_to(sandbox, "GET", "/adm/audiences", expected=3)
    assert len(pages) == 3
    assert "nextToken=" not in pages[0].query
    assert all("nextToken=" in page.query for page in pages[1:])


def test_members_from_bytes_or_mapping_are_applied(adm_client: AdmClient, sandbox: Any) -> None:
    dataset = adm_client.create_audience("Members_test", "US")
    batch = {"members": [member("crm-1"), member("crm-2")]}
    first = adm_client.ingest_members(dataset.data_set_id, orjson.dumps(batch))
    second = adm_client.ingest_members(dataset.data_set_id, {"members": [member("crm-3")]})
    assert first.errors == [] and second.errors == []
    assert first.ingress_id and second.ingress_id
    stored = sandbox.state()["datasets"][dataset.data_set_id]["members"]
    assert set(stored) == {"crm-1", "crm-2", "crm-3"}


def test_member_errors_keep_0_based_positions(adm_client: AdmClient) -> None:
    dataset = adm_client.create_audience("Partial_batch", "US")
    broken = member("crm-bad")
    broken["userIdentity"]["hashedPiis"][0]["em"] = "not-a-hash"
    result = adm_client.ingest_members(
        dataset.data_set_id, {"members": [member("crm-ok-1"), broken, member("crm-ok-2")]}
    )
    assert [(error.index, error.code) for error in result.errors] == [(1, "INVALID_HASHED_PII")]
    assert "SHA-256" in result.errors[0].message


def test_oversized_body_is_payload_too_large(adm_client: AdmClient) -> None:
    dataset = adm_client.create_audience("Too_big", "US")
    with pytest.raises(PayloadTooLarge):
        adm_client.ingest_members(dataset.data_set_id, b" " * 10_000_001)


def test_dataset_details_are_listed(adm_client: AdmClient) -> None:
    dataset = adm_client.create_audience("Details_test", "US")
    adm_client.ingest_members(dataset.data_set_id, {"members": [member("crm-1")]})
    (details,) = adm_client.list_dataset_details([dataset.data_set_id])
    assert details["datasetId"] == dataset.data_set_id
    assert details["records"] == 1


# -- sharing rules, identities, manager accounts ----------------------------------------


def share(client: AdmClient, sandbox: Any, data_set_id: str, audience_name: str) -> Any:
    return client.create_sharing_rule(
        application="DSP_AUDIENCES",
        data_set_id=data_set_id,
        destination_account_id=sandbox.account.advertiser_account_id,
        marketplace_id=sandbox.account.marketplace_id,
        metadata={"audienceMetadata": {"audienceName": audience_name}},
    )


def test_sharing_rules_are_created_listed_and_revoked(sandbox: Any) -> None:
    settings = sandbox_settings(sandbox, page_size=2)
    with AdmClient(settings, sandbox_credentials(sandbox)) as client:
        datasets = [client.create_audience(f"Shared_{n}", "US") for n in range(3)]
        rules = [
            share(client, sandbox, dataset.data_set_id, f"Shared audience {n}")
            for n, dataset in enumerate(datasets)
        ]
        assert {rule.status for rule in rules} == {"ACTIVE"}
        listed = list(client.list_sharing_rules())
        assert {rule.sharing_rule_id for rule in listed} == {r.sharing_rule_id for r in rules}
        pages = requests_to(sandbox, "POST", "/adm/sharingRules/list", expected=2)
        assert len(pages) == 2  # 2 + 1 rules

        only_first = list(client.list_sharing_rules(dataset_ids=[datasets[0].data_set_id]))
        assert [rule.sharing_rule_id for rule in only_first] == [rules[0].sharing_rule_id]

        client.revoke_sharing_rule(rules[0].sharing_rule_id)
        revoked = list(client.list_sharing_rules(statuses=["REVOKED_BY_USER"]))
        assert [rule.sharing_rule_id for rule in revoked] == [rules[0].sharing_rule_id]
        active = list(
            client.list_sharing_rules(
                application="DSP_AUDIENCES",
                destination_account_id=sandbox.account.advertiser_account_id,
                statuses=["ACTIVE"],
            )
        )
        assert {rule.sharing_rule_id for rule in active} == {
            rules[1].sharing_rule_id,
            rules[2].sharing_rule_id,
        }


def test_identities_are_deleted(adm_client: AdmClient, sandbox: Any) -> None:
    adm_client.delete_identities({"targetIdentities": [{"externalUserId": "crm-gdpr-1"}]})
    assert sandbox.state()["identityDeletions"] == [{"externalUserId": "crm-gdpr-1"}]


def test_manager_accounts_list_the_linked_advertiser(adm_client: AdmClient, sandbox: Any) -> None:
    (manager,) = adm_client.list_manager_accounts()
    assert manager.manager_account_id == sandbox.account.manager_account_id
    linked = {account.account_id for account in manager.linked_accounts}
    assert sandbox.account.advertiser_account_id in linked


# -- DSP conversions --------------------------------------------------------------------


def definition(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "conversionType": "OFF_AMAZON_PURCHASES",
        "countingMethod": "EVERY",
        "source": "SERVER_TO_SERVER",
        "sourceType": "OFFLINE",
        "value": 1.0,
        **overrides,
    }


def test_conversion_definitions_207_maps_to_0_based_results(adm_client: AdmClient) -> None:
    result = adm_client.create_conversion_definitions(
        [
            definition("Store purchase"),
            definition("Broken", countingMethod="SOMETIMES"),
            definition("Phone order"),
        ]
    )
    assert [index for index, _ in result.success] == [0, 2]
    assert all(definition_id for _, definition_id in result.success)
    assert [error.index for error in result.errors] == [1]
    assert isinstance(result.errors[0], ItemError)


def test_conversion_definitions_are_listed_across_pages(adm_client: AdmClient) -> None:
    names = [f"Definition {n}" for n in range(12)]
    created = adm_client.create_conversion_definitions([definition(n) for n in names[:10]])
    created_more = adm_client.create_conversion_definitions([definition(n) for n in names[10:]])
    assert len(created.success) + len(created_more.success) == 12
    listed = list(adm_client.list_conversion_definitions())
    assert sorted(item.name for item in listed) == sorted(names)


def event(definition_id: str, dedupe: str, *, age: timedelta = timedelta(hours=1)) -> dict:
    return {
        "name": "purchase",
        "conversionDefinitionId": definition_id,
        "countryCode": "US",
        "timestamp": (datetime.now(UTC) - age).isoformat(timespec="seconds"),
        "matchKeys": [{"type": "EMAIL", "values": [sha(f"{dedupe}@example.com")]}],
        "clientDedupeId": dedupe,
        "value": 12.5,
        "currencyCode": "USD",
    }


def test_conversion_events_207_maps_to_0_based_results(adm_client: AdmClient, sandbox: Any) -> None:
    result = adm_client.create_conversion_definitions([definition("Offline sale")])
    ((_, definition_id),) = result.success
    events = [
        event(definition_id, "order-1"),
        event(definition_id, "order-2", age=timedelta(days=8)),  # too old: rejected
        event(definition_id, "order-3"),
    ]
    imported = adm_client.ingest_conversion_events(
        orjson.dumps({"source": "SERVER_TO_SERVER", "eventData": events})
    )
    assert imported.succeeded == [0, 2]
    assert [error.index for error in imported.errors] == [1]
    stored = sandbox.state()["conversionDefinitions"][definition_id]
    assert stored["eventCount"] == 2


# -- headers and media types ------------------------------------------------------------


def test_each_call_sends_the_documented_headers(adm_client: AdmClient, sandbox: Any) -> None:
    account = sandbox.account
    dataset = adm_client.create_audience("Header_check", "US")
    adm_client.ingest_members(dataset.data_set_id, {"members": [member("crm-1")]})
    list(adm_client.list_conversion_definitions())
    adm_client.delete_identities({"targetIdentities": [{"externalUserId": "crm-1"}]})

    (members_call,) = requests_to(sandbox, "POST", f"/adm/audiences/{dataset.data_set_id}")
    headers = {name.lower(): value for name, value in members_call.headers.items()}
    assert headers["content-type"] == "application/vnd.admAudiences.v1+json"
    assert headers["amazon-advertising-api-clientid"] == account.client_id
    assert headers["authorization"].startswith("Bearer Atza|")
    assert headers["amazon-ads-manager-account-id"] == account.manager_account_id
    assert headers["amazon-ads-accountid"] == account.advertiser_account_id

    (dsp_call,) = requests_to(sandbox, "POST", "/accounts/")
    dsp_headers = {name.lower(): value for name, value in dsp_call.headers.items()}
    assert dsp_headers["amazon-advertising-api-scope"] == account.profile_id
    assert dsp_headers["content-type"] == "application/vnd.dspconversiondefinition.v1+json"

    (deletion,) = requests_to(sandbox, "POST", "/adm/identities/delete")
    deletion_headers = {name.lower(): value for name, value in deletion.headers.items()}
    assert deletion_headers["content-type"] == "application/vnd.admDataDeletion.v1+json"
    assert deletion_headers["amazon-ads-manager-account-id"] == account.manager_account_id
    assert sandbox.schema_violations == []


def test_dataset_metrics_say_how_many_members_matched(adm_client: AdmClient, sandbox: Any) -> None:
    dataset = adm_client.create_audience("Metrics_test", "US")
    members = [member(f"crm-{n}") for n in range(40)]
    broken = member("crm-bad")
    broken["userIdentity"]["hashedPiis"][0]["em"] = "not-a-hash"
    adm_client.ingest_members(dataset.data_set_id, {"members": [*members, broken]})

    metrics = adm_client.dataset_metrics(dataset.data_set_id)

    (call,) = requests_to(sandbox, "GET", f"/adm/datasets/{dataset.data_set_id}/metrics")
    assert call.headers["Accept"] == "application/vnd.admmetrics.v1+json"
    assert metrics.data_set_id == dataset.data_set_id
    assert (metrics.accepted_count, metrics.invalid_record_count) == (40, 1)
    assert (metrics.records_with_identity, metrics.upload_count) == (40, 1)
    # The sandbox matches a deterministic ~70 % of identities: some, never all of 40.
    assert metrics.records_resolved is not None and 0 < metrics.records_resolved < 40
    assert metrics.matched == metrics.records_resolved
    assert metrics.match_record_percentage == round(100 * metrics.records_resolved / 40, 2)
    assert adm_client.dataset_metrics(dataset.data_set_id) == metrics  # the same every time


def test_metrics_of_an_unknown_dataset_are_not_found(adm_client: AdmClient) -> None:
    with pytest.raises(NotFound):
        adm_client.dataset_metrics("no-such-dataset")
