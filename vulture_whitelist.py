"""Names vulture cannot see used, each with who uses it (``make deadcode``).

vulture reads only the shipped code (the library, the Lambda handlers, the local tooling), so
whatever a framework calls by protocol, or only tests and benchmarks read, is listed here.
This file is never imported; vulture reads the attribute names below as uses.
``tests/test_deadcode_whitelist.py`` checks that every name listed still exists, so an entry
cannot outlive its code. Anything not listed and reported is dead: delete it.
"""

from types import SimpleNamespace

_ = SimpleNamespace()

# -- called by AWS Lambda and Step Functions (template.yaml ``Handler:``) -----------------------
_.lambda_handler  # functions/{splitter,worker,deadletter,sweeper}/app.py
_.accept_terms  # functions/setup/app.py: the setup state machine's tasks
_.ensure_data_room
_.ensure_account
_.ensure_audience
_.ensure_conversion_definitions
_.ensure_sharing_rule
_.save_registry
_.record_handler  # Powertools' BatchProcessor calls it per SQS record (deadletter)
_.process_chunk  # Powertools' @idempotent_function wraps it (worker)

# -- called by a protocol or a framework ---------------------------------------------------------
_.exc_type  # __exit__(exc_type, exc, traceback): the context-manager protocol
_.__qualname__  # normalize/pii.py names each generated hasher (tracebacks, profiles)
_.trust_env  # requests.Session: set to False so ~/.netrc and proxy variables are ignored
# local/adm_local/sandbox/server.py: BaseHTTPRequestHandler / ThreadingHTTPServer read these
_.protocol_version
_.wbufsize
_.disable_nagle_algorithm
_.daemon_threads
_.log_request
_.log_message
_._server_entry  # local/adm_local/motoserver.py: moto's ThreadedMotoServer thread target
# local/adm_local/sandbox/validation.py: a jsonschema-rs custom keyword (constructor, validate)
_.parent_schema
_.schema_path
_.validate
# local/adm_local/stepfunctions.py: the Lambda context Powertools reads, and moto's
# LambdaSimpleBackend.invoke signature (its ``backend`` is the replaced method's ``self``)
_.memory_limit_in_mb
_.aws_request_id
_.invoked_function_arn
_.function_version
_.log_group_name
_.log_stream_name
_.backend
_.readinto  # aep/client.py _FilePart: io.RawIOBase's read() calls it (io.BufferedReader)

# -- the ADM client's typed view of what the API returns (adm/models.py) ------------------------
# Documented response fields, kept on the models the client returns; nothing in the pipeline
# reads these yet, but a model that dropped them would misdescribe the API.
_.creation_date_time  # DataRoom
_.assigned_to_account_id  # DataRoom
_.data_set_type  # Dataset
_.account_type  # LinkedAccount
_.account_name  # LinkedAccount
_.dsp_advertiser_id  # LinkedAccount
_.manager_account_name  # ManagerAccount
_.list_manager_accounts  # AdmClient: the API's manager-account listing (tests/client)

# -- read by tests and benchmarks only -----------------------------------------------------------
_.dump_dom  # adm_local/browser.py: tests/browser/test_report_browser.py reads Chromium's DOM
_.refresh_count  # adm/auth.py TokenProvider: token requests made (tests/client)
_.token_requests  # aep/auth.py ImsTokenProvider: token grants requested (tests/aep)
_.id_of  # registry.Registry: name → id (tests/e2e, bench)
_.address_words  # normalize/address.py: the word map a property test checks against
_.phone_region  # normalize/phone.py: the region the libphonenumber oracle tests parse with
_.MATCHABLE_SETS  # identifiers.py: the rule is_matchable's golden test is checked against
_.awaiting_remote  # ledger_records.FileRecord: a parked file (the claim's condition reads the
# attribute in DynamoDB; tests/unit read the field)
# local/adm_local/crashes.py: arm and disarm the crash points of the fault-matrix tests
_.arm
_.disarm
# local/adm_local/stack.py: LocalStack's pump counters and queue helpers (tests/e2e, bench)
_.continuations
_.chunk_retries
_.worker_crashes
_.dead_letter_retries
_.queue_url
_.receive
_.sqs_event
# local/adm_local/sandbox/server.py: one manager account's state (multi-account tests)
_.state_of
# local/adm_local/aep_sandbox/server.py: one org's schemas and a batch's files (AEP multi-org
# tests: setup and end to end)
_.schemas_of
_.batch_files

# -- the typed ledger records: every attribute of the DynamoDB items, whether or not library code
# -- reads it (the fake ledger's contract test and tests/unit compare whole records) -------------
_.chunks_done  # FileRecord
_.counted_chunks  # FileRecord
_.reported_at  # FileRecord
_.last_finalize_error  # FileRecord
_.completed_at  # ChunkRecord

# -- declared for destinations and documents -------------------------------------------------
_.json_lines  # batching.py: the JSON Lines wire format (a file of items, e.g. an AEP upload;
# tests/property/test_batching.py)
_.ORJSON_DEPTH  # readers/json_values.py: orjson's own nesting limit, which jsonl.py relies on

# -- the AEP client's foundations (#12, in progress: the AEP client and handlers will call them) -
_.from_environ  # aep/endpoints.py AepSettings: AEP_API_URL / AEP_IMS_URL overrides (tests/aep)
# The typed AEP client, for the AEP destination (#12, in progress); until it lands only
# tests/aep/test_aep_client.py calls these (each over HTTP).
_.create_dataset  # aep/client.py AepClient: setup ensures datasets by name
_.list_datasets  # aep/client.py AepClient
_.get_dataset  # aep/client.py AepClient
_.enable_profile  # aep/client.py AepClient
_.list_batches  # aep/client.py AepClient: open finds the batch by externalId
_.create_batch  # aep/client.py AepClient
_.put_file  # aep/client.py AepClient: deliver
_.initialize_file  # aep/client.py AepClient: the large-file path
_.patch_file  # aep/client.py AepClient
_.complete_file  # aep/client.py AepClient
_.upload_large_file  # aep/client.py AepClient: deliver, above the part-size threshold
_.complete_batch  # aep/client.py AepClient: commit
_.abort_batch  # aep/client.py AepClient
_.get_schema  # aep/client.py AepClient: setup compiles the validator form
_.batch_failed_files  # aep/client.py AepClient: report
_.row_errors  # aep/client.py AepClient: report, rejects
_.profile_enabled  # aep/models.py Dataset: setup reports "unchanged"
_.is_final  # aep/models.py Batch: poll
_.record_count  # aep/models.py BatchError: report
_.input_record_count  # aep/models.py BatchMetrics: report
_.output_record_count  # aep/models.py BatchMetrics
_.failed_record_count  # aep/models.py BatchMetrics
_.input_file_count  # aep/models.py BatchMetrics
_.input_byte_size  # aep/models.py BatchMetrics
_.href  # aep/models.py MetaFile
_.row_index  # aep/models.py RowError: rejects map it back to a source line
