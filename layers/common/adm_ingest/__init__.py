"""adm-ingest runtime library: read, map, normalize, hash, consent, batch and send first-party
data to Amazon Ads data manager. Shipped to AWS as the functions' shared Lambda layer."""

__version__ = "0.1.0"
