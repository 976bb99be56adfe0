"""A local stand-in for Amazon's Ads data manager, DSP conversions and LwA token APIs.

Embeddable in tests::

    from adm_local.sandbox import SandboxServer

    with SandboxServer(port=0) as sb:
        token = requests.post(sb.token_url, data={...}).json()["access_token"]
        ...
        assert sb.state()["datasets"]

or run standalone with ``python -m adm_local.sandbox --port 8765`` (``adm-ingest sandbox``).
Requests and responses are validated against ``api-schema.json``, the structural schema
generated from Amazon's OpenAPI files by ``scripts/gen_api_schema.py``.
"""

from .auth import SandboxAccount
from .server import MAX_BODY_BYTES, RecordedRequest, SandboxServer

__all__ = ["MAX_BODY_BYTES", "RecordedRequest", "SandboxAccount", "SandboxServer"]
