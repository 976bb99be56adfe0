"""Benchmarks for adm-ingest: ``python -m bench`` (``make bench``).

``library`` (members/s/core and peak RSS of the record path), ``splitter`` (MB/s and RSS of the
splitter handler against moto), ``e2e`` (a 1M-member file through the local stack) and ``cost``
(AWS cost per 10M records from the measured CPU time and API calls). Each workload runs in its
own subprocess (:mod:`bench.measure`); figures go to ``bench/data/results.json`` and, with
``--write-docs``, into docs/PERFORMANCE.md. Not shipped: nothing in the product imports this.
"""
