"""A local Adobe Experience Platform: IMS, the API gateway, Catalog, Batch Ingestion, Data
Access and the Schema Registry, over real HTTP on 127.0.0.1 (``adm-ingest aep-sandbox``)."""

from .ims import AepAccount
from .server import AepSandboxServer

__all__ = ["AepAccount", "AepSandboxServer"]
