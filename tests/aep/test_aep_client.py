"""The typed AEP client over real HTTP: every answer comes from ``ScriptedServer`` on 127.0.0.1.

One scripted server plays IMS, another the Platform gateway, so headers, retries, token
renewal, streaming and Adobe's body shapes run exactly as they would against Adobe.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from adm_ingest.adm import RetryableError, RetryPolicy, Timeouts
from adm_ingest.adm.errors import AuthError
from adm_ingest.aep import AepCredentials, AepSettings
from adm_ingest.aep.client import AepClient, ContentRange
from adm_ingest.aep.errors import (
    AepApiError,
    AepNotFound,
    AepServerError,
    AepThrottled,
    AepTokenRejected,
)
from adm_ingest.aep.models import Dataset, RowError
from tests.client.scripted_http import Received, Reply, ScriptedServer

CLIENT_SECRET = "p8e-VerySecretClientSecret-41"
TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-1"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.secret-access-token-2"
SECRET_FIELDS = {
    "client_id": "0123456789abcdef0123456789abcdef",
    "client_secret": CLIENT_SECRET,
    "scopes": "openid,AdobeID,read_organizations",
    "org_id": "ABC123@AdobeOrg",
    "sandbox_name": "prod",
    "tenant_id": "acme",
}
IDENTITY_HEADERS = {
    "x-api-key": SECRET_FIELDS["client_id"],
    "x-gw-ims-org-id": SECRET_FIELDS["org_id"],
    "x-sandbox-name": "prod",
}
TOKEN_REJECTED = Reply(401, b'{"error_code":"401013","message":"Oauth token is not valid"}')
PII = "jane.doe@example.com"


def token_reply(token: str) -> Reply:
    body = {"access_token": token, "token_type": "bearer", "expires_in": 86399}
    return Reply(200, json.dumps(body).encode())


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def ims() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=token_reply(TOKEN_1)) as server:
        yield server


@pytest.fixture
def api() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def client(ims: ScriptedServer, api: ScriptedServer) -> Iterator[AepClient]:
    settings = AepSettings(
        api_url=api.url,
        ims_url=ims.url,
        timeouts=Timeouts(connect=1.0, read=5.0),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
        call_budget=10.0,
    )
    with AepClient(AepCredentials.from_mapping(SECRET_FIELDS), settings) as aep:
        yield aep


def path_and_query(request: Received) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(request.path)
    return parts.path, parse_qs(parts.query)


def assert_identified(request: Received, token: str = TOKEN_1) -> None:
    assert request.headers["Authorization"] == f"Bearer {token}"
    for name, value in IDENTITY_HEADERS.items():
        assert request.headers[name] == value


class CountingReader(io.BytesIO):
    """A file object recording every read size: proves the client streams it in pieces."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(size)
        return super().read(size)


class OneWayReader(io.RawIOBase):
    """A stream that cannot seek (an HTTP response body, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# -- identity headers and token renewal -----------------------------------------------------


def test_every_call_carries_the_four_identity_headers_with_one_token(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer
) -> None:
    api.then(Reply(200, body({"ds1": {"name": "Loyalty"}})), Reply(200, b""), Reply(200, b"{}"))

    client.get_dataset("ds1")
    client.put_file("b1", "ds1", "part-0.json", b'{"a":1}\n')
    client.get_schema("https://ns.adobe.com/acme/schemas/abc")

    assert len(api.received) == 3
    for request in api.received:
        assert_identified(request)
    assert len(ims.received) == 1  # the token is cached across calls


def test_a_401013_gets_exactly_one_new_token_and_one_retry(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer
) -> None:
    ims.then(token_reply(TOKEN_1), token_reply(TOKEN_2))
    api.then(TOKEN_REJECTED, Reply(200, body({"b1": {"status": "loading"}})))

    batch = client.get_batch("b1")

    assert batch.status == "loading"
    first, second = api.received
    assert_identified(first, TOKEN_1)
    assert_identified(second, TOKEN_2)
    assert len(ims.received) == 2


def test_a_fresh_token_rejected_again_is_a_permanent_auth_error(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer
) -> None:
    ims.then(token_reply(TOKEN_1), token_reply(TOKEN_2))
    api.then(TOKEN_REJECTED, TOKEN_REJECTED)

    with pytest.raises(AepTokenRejected) as caught:
        client.get_batch("b1")

    assert isinstance(caught.value, AuthError)
    assert caught.value.code == "401013"
    assert len(api.received) == 2 and len(ims.received) == 2


def test_a_streamed_put_rejected_with_401013_is_sent_again_whole(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer
) -> None:
    ims.then(token_reply(TOKEN_1), token_reply(TOKEN_2))
    api.then(TOKEN_REJECTED, Reply(200, b""))
    data = b'{"n":1}\n' * 5000

    client.put_file("b1", "ds1", "part-0.json", CountingReader(data))

    assert [request.body for request in api.received] == [data, data]
    assert_identified(api.received[1], TOKEN_2)


def test_other_401s_are_not_token_renewals(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer
) -> None:
    api.then(Reply(401, body({"error_code": "401999", "message": "something else"})))

    with pytest.raises(AepApiError) as caught:
        client.get_batch("b1")

    assert (caught.value.status, caught.value.code) == (401, "401999")
    assert len(api.received) == 1 and len(ims.received) == 1


# -- transient failures -----------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_succeeds(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(
        Reply(
            429,
            body({"error_code": "429001", "message": "Too many requests"}),
            {"Retry-After": "1"},
        ),
        Reply(200, body({"b1": {"status": "processing"}})),
    )

    assert client.get_batch("b1").status == "processing"

    first, second = api.received
    assert second.at - first.at >= 1.0


def test_5xx_until_attempts_run_out_is_a_retryable_error_with_adobes_code(
    client: AepClient, api: ScriptedServer
) -> None:
    api.default = Reply(
        503,
        body({"type": "/x", "title": "ServiceUnavailable", "detail": "busy"}),
        {"x-request-id": "req-7"},
    )

    with pytest.raises(AepServerError) as caught:
        client.get_dataset("ds1")

    assert isinstance(caught.value, RetryableError)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        503,
        "ServiceUnavailable",
        "busy",
    )
    assert caught.value.request_id == "req-7"  # Adobe's request-id header, not Amazon's
    assert len(api.received) == 3  # max_attempts


def test_a_throttled_create_is_not_replayed(client: AepClient, api: ScriptedServer) -> None:
    api.then(Reply(429, b"{}", {"Retry-After": "0"}))

    with pytest.raises(AepThrottled):
        client.create_batch("ds1", external_id="file-1")

    assert len(api.received) == 1  # the batch may exist: the caller lists by externalId first


def test_a_streamed_put_retried_after_a_5xx_is_rewound(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(502, b"{}"), Reply(200, b""))
    data = bytes(range(256)) * 400
    reader = CountingReader(b"HEADER" + data)
    reader.seek(6)  # streamed from where the caller left the file

    client.put_file("b1", "ds1", "part-0.json", reader)

    assert [request.body for request in api.received] == [data, data]


def test_a_stream_that_cannot_seek_is_sent_once(client: AepClient, api: ScriptedServer) -> None:
    api.then(Reply(503, b"{}"))
    data = b'{"n":1}\n' * 100

    with pytest.raises(AepServerError):
        client.put_file("b1", "ds1", "part-0.json", io.BufferedReader(OneWayReader(data)))

    assert [request.body for request in api.received] == [data]


# -- Adobe's error bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reply", "code", "message", "kind"),
    [
        (
            403,
            {"error_code": "403003", "message": "Api Key is invalid"},
            "403003",
            "Api Key is invalid",
            AepApiError,
        ),
        (
            400,
            {
                "type": "/placeholder/type/uri",
                "status": 400,
                "title": "BadRequestError",
                "detail": "A valid content-type must be specified",
            },
            "BadRequestError",
            "A valid content-type must be specified",
            AepApiError,
        ),
        (
            404,
            {
                "type": "http://ns.adobe.com/aep/errors/XDM-1012-404",
                "title": "Resource Not Found",
                "status": 404,
                "detail": "no such schema",
            },
            "XDM-1012-404",
            "no such schema",
            AepNotFound,
        ),
        (
            400,
            {"code": "INGEST-1100-400", "message": "bad batch"},
            "INGEST-1100-400",
            "bad batch",
            AepApiError,
        ),
        (409, {}, "HTTP_409", "", AepApiError),
    ],
)
def test_adobe_error_bodies_become_typed_errors(
    client: AepClient,
    api: ScriptedServer,
    status: int,
    reply: dict[str, Any],
    code: str,
    message: str,
    kind: type[AepApiError],
) -> None:
    api.then(Reply(status, body(reply), {"x-request-id": "req-42"}))

    with pytest.raises(kind) as caught:
        client.get_dataset("ds1")

    error = caught.value
    assert (error.status, error.code, error.message, error.request_id) == (
        status,
        code,
        message,
        "req-42",
    )
    assert not isinstance(error, RetryableError)


# -- Catalog ----------------------------------------------------------------------------------


def dataset_doc(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/abc", "contentType": "x"},
        "tags": {"unifiedProfile": ["enabled: true"]},
        "created": 1700000000000,
    }


def test_list_datasets_pages_with_limit_and_start_until_a_short_page(
    client: AepClient, api: ScriptedServer
) -> None:
    first = {f"ds{i:03}": dataset_doc(f"Loyalty {i}") for i in range(100)}
    second = {f"ds{i:03}": dataset_doc(f"Loyalty {i}") for i in range(100, 103)}
    api.then(Reply(200, body(first)), Reply(200, body(second)))

    datasets = list(client.list_datasets(name="Loyalty"))

    assert [d.id for d in datasets] == [f"ds{i:03}" for i in range(103)]
    assert datasets[0].name == "Loyalty 0"
    assert datasets[0].schema_id == "https://ns.adobe.com/acme/schemas/abc"
    assert datasets[0].profile_enabled
    assert datasets[0].created == 1700000000000
    queries = [path_and_query(request) for request in api.received]
    assert queries == [
        (
            "/data/foundation/catalog/dataSets",
            {"name": ["Loyalty"], "limit": ["100"], "start": ["0"]},
        ),
        (
            "/data/foundation/catalog/dataSets",
            {"name": ["Loyalty"], "limit": ["100"], "start": ["100"]},
        ),
    ]


def test_a_server_ignoring_start_does_not_loop(client: AepClient, api: ScriptedServer) -> None:
    page = {f"ds{i:03}": dataset_doc("x") for i in range(100)}
    api.default = Reply(200, body(page))

    assert len(list(client.list_datasets())) == 100
    assert len(api.received) == 2


def test_create_dataset_returns_the_id_from_the_reference_list(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(201, body(["@/dataSets/5c8c3c555033b814b69f947f"])))

    dataset_id = client.create_dataset(
        "Loyalty", "https://ns.adobe.com/acme/schemas/abc", profile=True, identity=True
    )

    assert dataset_id == "5c8c3c555033b814b69f947f"
    (request,) = api.received
    assert request.method == "POST" and request.path == "/data/foundation/catalog/dataSets"
    assert request.headers["Content-Type"] == "application/json"
    sent = json.loads(request.body)
    assert sent["name"] == "Loyalty"
    assert sent["schemaRef"]["id"] == "https://ns.adobe.com/acme/schemas/abc"
    assert sent["tags"] == {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}


def test_create_dataset_without_a_reference_is_an_error(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(201, body(["something else"])))

    with pytest.raises(AepApiError, match="no @/dataSets/"):
        client.create_dataset("Loyalty", "https://ns.adobe.com/acme/schemas/abc")


def test_get_delete_and_enable_profile_address_the_dataset(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(
        Reply(200, body({"ds1": dataset_doc("Loyalty")})),
        Reply(200, body(["@/dataSets/ds1"])),
        Reply(200, body(["@/dataSets/ds1"])),
    )

    assert client.get_dataset("ds1").name == "Loyalty"
    client.enable_profile("ds1")
    client.delete_dataset("ds1")

    get, patch, delete = api.received
    assert (get.method, get.path) == ("GET", "/data/foundation/catalog/dataSets/ds1")
    assert (patch.method, delete.method) == ("PATCH", "DELETE")
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert json.loads(patch.body) == [
        {"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}
    ]


def test_enable_profile_patches_only_the_tags_asked_for(
    client: AepClient, api: ScriptedServer
) -> None:
    api.default = Reply(200, body(["@/dataSets/ds1"]))

    client.enable_profile("ds1", identity=True)
    client.enable_profile("ds1", profile=False, identity=True)
    client.enable_profile("ds1", profile=False)

    both, identity_only = (json.loads(request.body) for request in api.received)
    assert [op["path"] for op in both] == ["/tags/unifiedProfile", "/tags/unifiedIdentity"]
    assert identity_only == [
        {"op": "add", "path": "/tags/unifiedIdentity", "value": ["enabled:true"]}
    ]
    assert len(api.received) == 2  # nothing asked for: no call


def test_dataset_tags_say_whether_profile_and_identity_are_enabled() -> None:
    tagged = Dataset.from_api(
        "ds1", {"tags": {"unifiedProfile": ["enabled: true"], "unifiedIdentity": ["x"]}}
    )
    assert (tagged.profile_enabled, tagged.identity_enabled) == (True, False)
    assert not Dataset.from_api("ds2", {"name": "n"}).identity_enabled


def test_get_batch_parses_status_metrics_and_errors(client: AepClient, api: ScriptedServer) -> None:
    document = {
        "status": "success",
        "externalId": "file-1",
        "relatedObjects": [{"type": "dataSet", "id": "ds1"}],
        "metrics": {"inputRecordCount": 519, "outputRecordCount": 514, "failedRecordCount": 5},
        "errors": [
            {"code": "INGEST-1212-400", "description": "Encountered 5 errors in the data."},
            {"code": "INGEST-1555-400", "description": "A required field…", "recordCount": 3},
        ],
    }
    api.then(Reply(200, body({"01EQ1C48TR": document})))

    batch = client.get_batch("01EQ1C48TR")

    assert (batch.id, batch.status, batch.external_id, batch.dataset_id) == (
        "01EQ1C48TR",
        "success",
        "file-1",
        "ds1",
    )
    assert batch.succeeded and batch.is_final
    assert (
        batch.metrics.input_record_count,
        batch.metrics.output_record_count,
        batch.metrics.failed_record_count,
    ) == (519, 514, 5)
    assert [(e.code, e.record_count) for e in batch.errors] == [
        ("INGEST-1212-400", None),
        ("INGEST-1555-400", 3),
    ]


def test_list_batches_filters_by_external_id(client: AepClient, api: ScriptedServer) -> None:
    api.then(Reply(200, body({"b1": {"status": "loading", "externalId": "file-1"}})))

    (batch,) = client.list_batches(external_id="file-1")

    assert (batch.id, batch.external_id, batch.is_final) == ("b1", "file-1", False)
    path, query = path_and_query(api.received[0])
    assert path == "/data/foundation/catalog/batches"
    assert query["externalId"] == ["file-1"]


# -- Batch Ingestion --------------------------------------------------------------------------


def test_create_batch_sends_the_json_lines_batch_and_returns_its_id(
    client: AepClient, api: ScriptedServer
) -> None:
    created = {
        "id": "b1",
        "status": "loading",
        "relatedObjects": [{"type": "dataSet", "id": "ds1"}],
    }
    api.then(Reply(201, body(created)))

    batch = client.create_batch("ds1", external_id="file-1", partial_ingestion_percent=5)

    assert (batch.id, batch.status, batch.dataset_id) == ("b1", "loading", "ds1")
    (request,) = api.received
    assert request.path == "/data/foundation/import/batches"
    assert json.loads(request.body) == {
        "datasetId": "ds1",
        "inputFormat": {"format": "json"},
        "enableErrorDiagnostics": True,
        "externalId": "file-1",
        "partialIngestionPercent": 5,
    }


def test_complete_and_abort_post_the_action(client: AepClient, api: ScriptedServer) -> None:
    client.complete_batch("b1")
    client.abort_batch("b2")

    assert [(r.method, *path_and_query(r)) for r in api.received] == [
        ("POST", "/data/foundation/import/batches/b1", {"action": ["COMPLETE"]}),
        ("POST", "/data/foundation/import/batches/b2", {"action": ["ABORT"]}),
    ]


def test_a_repeat_complete_of_a_completed_batch_is_success(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(
        Reply(400, body({"title": "BadRequestError", "detail": "batch is not loading"})),
        Reply(200, body({"b1": {"status": "processing"}})),
    )

    client.complete_batch("b1")

    assert [r.method for r in api.received] == ["POST", "GET"]


def test_a_refused_complete_of_a_loading_batch_is_still_an_error(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(
        Reply(400, body({"title": "BadRequestError", "detail": "Dataset file is empty"})),
        Reply(200, body({"b1": {"status": "loading"}})),
    )

    with pytest.raises(AepApiError, match="Dataset file is empty"):
        client.complete_batch("b1")


def test_aborting_a_final_batch_is_an_error_but_a_repeat_abort_is_not(
    client: AepClient, api: ScriptedServer
) -> None:
    refused = Reply(400, body({"title": "BadRequestError", "detail": "batch is final"}))
    api.then(refused, Reply(200, body({"b1": {"status": "success"}})))
    with pytest.raises(AepApiError):
        client.abort_batch("b1")

    api.then(refused, Reply(200, body({"b2": {"status": "aborted"}})))
    client.abort_batch("b2")


def test_put_streams_a_file_object_without_reading_it_whole(
    client: AepClient, api: ScriptedServer
) -> None:
    data = b'{"person":{"name":{"firstName":"A"}}}\n' * 30000  # ≈ 1.1 MB
    reader = CountingReader(data)

    client.put_file("b1", "ds1", "dir=a/part-0.json", reader)

    (request,) = api.received
    assert request.method == "PUT"
    assert (
        request.path == "/data/foundation/import/batches/b1/datasets/ds1/files/dir%3Da/part-0.json"
    )
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.body == data
    assert reader.reads, "the body was not read from the file object"
    assert all(size is not None and 0 < size <= 64 * 1024 for size in reader.reads)
    assert len(reader.reads) > 1


def test_put_sends_bytes_as_they_are(client: AepClient, api: ScriptedServer) -> None:
    client.put_file("b1", "ds1", "part-1.json", b'{"a":1}\n{"a":2}\n')

    assert api.received[0].body == b'{"a":1}\n{"a":2}\n'


def test_large_file_upload_initializes_patches_with_content_range_and_completes(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(201, b""), Reply(200, b""), Reply(200, b""), Reply(200, b""))
    data = b"0123456789abcdefghij"

    client.initialize_file("b1", "ds1", "big.json")
    client.patch_file("b1", "ds1", "big.json", data[:10], ContentRange(0, 10, total=20))
    client.patch_file("b1", "ds1", "big.json", io.BytesIO(data[10:]), ContentRange(10, 10))
    client.complete_file("b1", "ds1", "big.json")

    file_path = "/data/foundation/import/batches/b1/datasets/ds1/files/big.json"
    init, first, second, complete = api.received
    assert (init.method, *path_and_query(init)) == ("POST", file_path, {"action": ["INITIALIZE"]})
    assert (first.method, first.path, first.body) == ("PATCH", file_path, data[:10])
    assert first.headers["Content-Range"] == "bytes 0-9/20"
    assert first.headers["Content-Type"] == "application/octet-stream"
    assert (second.body, second.headers["Content-Range"]) == (data[10:], "bytes 10-19")
    assert (complete.method, *path_and_query(complete)) == (
        "POST",
        file_path,
        {"action": ["COMPLETE"]},
    )


def test_upload_large_file_streams_each_part_with_its_range(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(201, b""), Reply(200, b""), Reply(503, b"{}"), Reply(200, b""))
    data = bytes(range(256)) * 100  # 25,600 bytes: parts of 10,000, 10,000, 5,600
    source = CountingReader(data)

    parts = client.upload_large_file(
        "b1", "ds1", "big.json", source, size=len(data), part_size=10_000
    )

    assert parts == 3
    patches = [r for r in api.received if r.method == "PATCH"]
    assert [r.headers["Content-Range"] for r in patches] == [
        "bytes 0-9999/25600",
        "bytes 10000-19999/25600",  # answered 503: sent again, rewound
        "bytes 10000-19999/25600",
        "bytes 20000-25599/25600",
    ]
    assert b"".join(r.body for r in (patches[0], patches[2], patches[3])) == data
    assert patches[1].body == patches[2].body
    assert all(size is not None and 0 < size <= 64 * 1024 for size in source.reads)
    assert [path_and_query(r)[1] for r in api.received if r.method == "POST"] == [
        {"action": ["INITIALIZE"]},
        {"action": ["COMPLETE"]},
    ]


def test_a_content_range_holds_at_least_one_byte() -> None:
    with pytest.raises(ValueError):
        ContentRange(0, 0)


# -- Schema Registry --------------------------------------------------------------------------


def test_get_schema_asks_for_the_full_form_of_the_url_encoded_id(
    client: AepClient, api: ScriptedServer
) -> None:
    schema = {"$id": "https://ns.adobe.com/acme/schemas/abc", "properties": {}}
    api.then(Reply(200, body(schema)))

    assert client.get_schema("https://ns.adobe.com/acme/schemas/abc") == schema

    (request,) = api.received
    assert request.path == (
        "/data/foundation/schemaregistry/tenant/schemas/"
        "https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fabc"
    )
    assert request.headers["Accept"] == "application/vnd.adobe.xed-full+json; version=1"


def schema_page(*titles: str, next_href: str | None = None) -> bytes:
    results = [
        {"$id": f"https://ns.adobe.com/acme/schemas/{t}", "meta:altId": f"_acme.schemas.{t}",
         "version": "1.0", "title": t}
        for t in titles
    ]  # fmt: skip
    return body(
        {
            "results": results,
            "_page": {"orderby": "title", "next": next_href, "count": len(results)},
            "_links": {"next": {"href": next_href} if next_href else None},
        }
    )


def test_list_schemas_orders_by_title_and_follows_the_next_page(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(
        Reply(200, schema_page("A", "B", next_href="/x/tenant/schemas?orderby=title&start=B")),
        Reply(200, schema_page("C")),
    )

    schemas = list(client.list_schemas())

    assert [s.title for s in schemas] == ["A", "B", "C"]
    assert schemas[0].id == "https://ns.adobe.com/acme/schemas/A"
    assert schemas[0].alt_id == "_acme.schemas.A"
    first, second = api.received
    assert first.headers["Accept"] == "application/vnd.adobe.xed-id+json"
    assert path_and_query(first) == (
        "/data/foundation/schemaregistry/tenant/schemas",
        {"orderby": ["title"], "limit": ["100"]},
    )
    assert path_and_query(second)[1] == {"orderby": ["title"], "limit": ["100"], "start": ["B"]}


def test_list_schemas_starts_after_the_last_title_when_next_names_no_start(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(200, schema_page("A", "B", next_href="opaque")), Reply(200, schema_page()))

    assert [s.title for s in client.list_schemas()] == ["A", "B"]
    assert path_and_query(api.received[1])[1]["start"] == ["B"]


def test_list_schemas_stops_when_a_page_repeats(client: AepClient, api: ScriptedServer) -> None:
    api.default = Reply(200, schema_page("A", next_href="/s?start=A"))

    assert [s.title for s in client.list_schemas()] == ["A"]
    assert len(api.received) == 2


# -- Data Access ------------------------------------------------------------------------------


def meta_listing(*names: str) -> bytes:
    return body(
        {
            "data": [
                {
                    "name": name,
                    "length": "153",
                    "_links": {"self": {"href": f"/meta?path=row_errors%2F{name}"}},
                }
                for name in names
            ],
            "_page": {"limit": 100, "count": len(names)},
        }
    )


def test_row_errors_read_every_diagnostics_file_into_codes_and_positions(
    client: AepClient, api: ScriptedServer
) -> None:
    parsing = {
        "_corrupt_record": "{email: '" + PII + "'",
        "_errors": [{"code": "1401", "message": "Row is corrupted and cannot be read."}],
        "_filename": "parsing_errors_0.json",
        "_input_file": "part-0.json",
        "_input_line": 3,
    }
    conversion = {
        "personalEmail": {"address": PII},
        "_errors": [
            {"code": "1555", "message": "required field missing", "path": "person.name"},
            {"code": "1212", "message": f"['{PII}'] is not valid", "path": "homeAddress.city"},
        ],
        "_filename": "conversion_errors_0.json",
    }
    api.then(
        Reply(200, meta_listing("parsing_errors_0.json", "conversion_errors_0.json")),
        Reply(200, (json.dumps(parsing) + "\n").encode()),
        Reply(200, (json.dumps(conversion) + "\n\n").encode()),
    )

    errors = list(client.row_errors("b1"))

    assert errors == [
        RowError(
            "part-0.json",
            2,
            "1401",
            "Row is corrupted and cannot be read.",
            None,
            "parsing_errors_0.json",
        ),
        RowError(
            None, None, "1555", "required field missing", "person.name", "conversion_errors_0.json"
        ),
        RowError(
            None, None, "1212", "… is not valid", "homeAddress.city", "conversion_errors_0.json"
        ),
    ]
    assert PII not in repr(errors)
    queries = [path_and_query(request) for request in api.received]
    assert [query["path"] for _, query in queries] == [
        ["row_errors"],
        ["row_errors/parsing_errors_0.json"],
        ["row_errors/conversion_errors_0.json"],
    ]
    assert {path for path, _ in queries} == {"/data/foundation/export/batches/b1/meta"}


def test_a_batch_without_diagnostics_has_no_row_errors(
    client: AepClient, api: ScriptedServer
) -> None:
    api.then(Reply(404, body({"title": "NotFoundError", "detail": "no meta"})))

    assert list(client.row_errors("b1")) == []


def test_failed_files_are_listed(client: AepClient, api: ScriptedServer) -> None:
    api.then(Reply(200, meta_listing("failed-0.json")))

    (failed,) = client.batch_failed_files("b1")

    assert (failed.name, failed.length) == ("failed-0.json", 153)
    assert api.received[0].path == "/data/foundation/export/batches/b1/failed"


# -- privacy ----------------------------------------------------------------------------------


def test_no_secret_or_token_in_reprs_errors_or_logs(
    client: AepClient, ims: ScriptedServer, api: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ims.then(token_reply(TOKEN_1), token_reply(TOKEN_2))
    api.then(
        TOKEN_REJECTED, TOKEN_REJECTED, Reply(500, b"{}"), Reply(500, b"{}"), Reply(500, b"{}")
    )
    failures: list[Exception] = []
    for call in (lambda: client.get_batch("b1"), lambda: client.get_dataset("ds1")):
        try:
            call()
        except (AepApiError, RetryableError) as error:
            failures.append(error)

    assert len(failures) == 2
    texts = [repr(client), repr(client.tokens), *map(str, failures), *map(repr, failures)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    for secret in (CLIENT_SECRET, TOKEN_1, TOKEN_2):
        assert not any(secret in text for text in texts)
    platform_lines = [r for r in caplog.records if getattr(r, "aep_path", "").startswith("/data/")]
    assert platform_lines and all(r.aep_method in ("GET", "POST") for r in platform_lines)


def test_the_time_budget_bounds_a_call(client: AepClient, api: ScriptedServer) -> None:
    api.default = Reply(429, b"{}", {"Retry-After": "30"})
    started = time.monotonic()

    with pytest.raises(AepThrottled) as caught:
        client.get_batch("b1")

    assert time.monotonic() - started < 5
    assert caught.value.retry_after == 30.0
