"""The operator's commands of ``adm-ingest`` (``progress``, ``redrive``, ``report``,
``local run``, ``completion``): each in its own module, registered in :mod:`adm_local.cli`.

They find the deployment's resources from ``--stack`` (CloudFormation outputs), or the
functions' own variables (``BUCKET``, ``LEDGER_TABLE``, ``CHUNK_QUEUE_URL``), with boto3's
default session — so the same command reads AWS or a local stack (``AWS_ENDPOINT_URL``).
"""
