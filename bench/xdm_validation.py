"""Rows validated per CPU-second by the pre-upload XDM check (#12 deliverable 4).

``python -m bench.xdm_validation``: the Profile-like schema and the 10-field row of the tests,
valid and with one problem: a quick check of the validator alone, not part of ``make bench``.
The ``aep`` benchmark (:mod:`bench.aep`, #12 deliverable 10) measures validation inside the
record path, rows → validated XDM JSON Lines, and reports its share in its stage table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from adm_ingest.aep.xdm_validation import ValidatorForm, compile_schema, validate
from tests.aep.xdm_schemas import PROFILE_SCHEMA, TENANT, profile_row


def rows_per_cpu_second(form: ValidatorForm, row: Mapping[str, object], rows: int) -> float:
    """How many times per CPU-second ``validate(form, row)`` runs, over ``rows`` calls."""
    validate(form, row)  # compile the closures outside the measurement
    start = time.process_time()
    for _ in range(rows):
        validate(form, row)
    return rows / (time.process_time() - start)


def main() -> None:
    form = compile_schema(PROFILE_SCHEMA)
    valid = profile_row()
    invalid = profile_row()
    invalid[TENANT]["loyalty"]["points"] = -1
    compile_start = time.process_time()
    for _ in range(100):
        compile_schema(PROFILE_SCHEMA).checker()
    compile_ms = (time.process_time() - compile_start) * 10
    print(f"form: {len(form.to_json())} bytes of JSON; compile + closures {compile_ms:.2f} ms")
    for name, row in (("valid", valid), ("one problem", invalid)):
        print(f"{name}: {rows_per_cpu_second(form, row, 200_000):,.0f} rows per CPU-second")


if __name__ == "__main__":
    main()
