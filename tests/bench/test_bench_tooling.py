"""The benchmark tooling's own guarantees: the generated data is deterministic and entirely
acceptable (the end-to-end benchmark's exact member check relies on it), a workload's memory is
measured in its own process, and --write-docs keeps the hand-written part of the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from adm_ingest.consent import ConsentPolicy
from adm_ingest.destinations import AudienceMembers, DeliveryTarget
from adm_ingest.mapping import build_plan
from adm_ingest.processing import RecordProcessor
from adm_ingest.readers import RecordBlock, open_records
from bench import aep, datagen, docs, results
from bench.measure import run_workload
from bench.results import BenchResult, Table


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(datagen, "DATA_DIR", tmp_path)
    return tmp_path


def _process(path: Path) -> RecordProcessor:
    destination = AudienceMembers(DeliveryTarget("audience_members", "bench", "dataset"))
    processor = RecordProcessor(destination, build_plan(None), ConsentPolicy())
    with path.open("rb") as stream:
        for batch in processor.batches(open_records(stream)):
            processor.tally.accepted += len(batch)
    return processor


SHAPES = [datagen.FULL, datagen.EMAIL_ONLY, datagen.EU_CONSENT]


@pytest.mark.parametrize("shape", [*SHAPES, datagen.AEP_PROFILE])
def test_generated_files_are_deterministic_per_seed(data_dir: Path, shape: str) -> None:
    first = datagen.dataset(shape, 500, seed=11).path.read_bytes()
    first_path = datagen.dataset(shape, 500, seed=11).path
    first_path.unlink()
    assert datagen.dataset(shape, 500, seed=11).path.read_bytes() == first
    assert datagen.dataset(shape, 500, seed=12).path.read_bytes() != first


@pytest.mark.parametrize("shape", SHAPES)
def test_every_generated_row_is_one_distinct_acceptable_member(data_dir: Path, shape: str) -> None:
    data = datagen.dataset(shape, 3000, seed=5)
    processor = _process(data.path)
    tally = processor.tally
    assert (tally.read, tally.accepted, tally.rejected_total) == (3000, 3000, 0)
    emails = [line.split(",")[1].strip().lower() for line in data.path.read_text().splitlines()[1:]]
    assert len(set(emails)) == 3000


def test_full_rows_carry_every_pii_field_most_of_the_time(data_dir: Path) -> None:
    coverage = _process(datagen.dataset(datagen.FULL, 3000, seed=5).path).tally.summary()
    valid = {name: counts["valid"] for name, counts in coverage["identifier_coverage"].items()}
    assert set(valid) == {
        "email",
        "phone",
        "first_name",
        "last_name",
        "address",
        "city",
        "state",
        "postal",
    }
    assert all(count >= 0.85 * 3000 for count in valid.values()), valid


def test_sized_dataset_stops_at_the_first_row_past_the_target(data_dir: Path) -> None:
    data = datagen.sized_dataset(datagen.FULL, 1_000_000, seed=3)
    text = data.path.read_text()
    assert data.size >= 1_000_000
    assert len(text.splitlines()) == data.rows + 1
    assert text.endswith("\n")


def test_each_workload_reports_its_own_peak_memory(data_dir: Path) -> None:
    data = datagen.dataset(datagen.FULL, 2000, seed=5)
    measured = run_workload("library", {"path": str(data.path)})
    assert measured.result["members"] == 2000
    assert measured.result["loop_cpu_seconds"] > 0
    # A fresh interpreter with the library imported: tens of MB, not this test process's size.
    assert 10 < measured.peak_rss_mb < 150


def test_write_docs_replaces_only_the_generated_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "RESULTS_PATH", tmp_path / "results.json")
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Performance\n\nHand-written.\n\n{docs.BEGIN}\nold figures\n{docs.END}\n")
    table = Table("Library", ("workload", "members/s"), [("full-field", "1")])
    docs.write({"library": BenchResult("library", [table], {}, False)}, doc)
    docs.write({"library": BenchResult("library", [table], {}, False)}, doc)
    text = doc.read_text()
    assert text.startswith("# Performance\n\nHand-written.\n\n")
    assert "old figures" not in text
    assert text.count(docs.BEGIN) == text.count(docs.END) == 1
    assert "| full-field | 1 |" in text


def test_saving_one_benchmark_keeps_the_others_and_their_machines(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "RESULTS_PATH", data_dir / "results.json")
    first, second = {"cpu": "first"}, {"cpu": "second"}
    results.save_results({"library": BenchResult("library", [], {"n": 1}, True)}, first)
    results.save_results({"splitter": BenchResult("splitter", [], {"n": 2}, False)}, second)
    results.save_results({"library": BenchResult("library", [], {"n": 3}, False)}, second)
    saved = results.load_results()
    assert {name: r.figures["n"] for name, r in saved.items()} == {"library": 3, "splitter": 2}
    assert results.saved_machines() == {"library": second, "splitter": second}


def test_the_stack_host_publishes_every_variable_of_its_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `make bench` exports AWS_DEFAULT_REGION with the stack's own value; the published
    # environment must still carry it (it once held only the variables that changed).
    from bench import splitter

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with splitter.hosted_stack() as env:
        assert env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert env["CHUNK_QUEUE_URL"] and env["SPLIT_QUEUE_URL"]  # set once the queues exist
        assert env[splitter.S3_EVENTS_QUEUE_ENV]


def _aep_parts(path: Path) -> list[bytes | object]:
    """What the AEP record path makes of each row of ``path``, in this process."""
    builder, _ = aep._builder()
    made: list[bytes | object] = []
    with path.open("rb") as stream:
        for block in open_records(stream):
            assert isinstance(block, RecordBlock)
            builder.layout_for(block.header)
            made += [
                builder.encode(builder.build(line, row))
                for line, row in zip(block.lines, block.rows, strict=True)
            ]
    return made


def test_every_generated_aep_profile_row_is_a_valid_xdm_row_of_ten_fields(data_dir: Path) -> None:
    # The AEP benchmark's "all rows sent" check relies on it, and on every column being mapped.
    data = datagen.dataset(datagen.AEP_PROFILE, 3000, seed=5)
    made = _aep_parts(data.path)
    assert len(made) == 3000 and all(type(item) is bytes for item in made)
    builder, _ = aep._builder()
    builder.layout_for(tuple(data.path.read_text().splitlines()[0].split(",")))
    summary = builder.summary()
    assert len(summary["columns"]) == 10 and not summary["unknown"] and not summary["not_sent"]


def test_the_aep_workload_streams_every_row_into_its_part(data_dir: Path) -> None:
    data = datagen.dataset(datagen.AEP_PROFILE, 2000, seed=5)
    expected = sum(len(item) + 1 for item in _aep_parts(data.path) if type(item) is bytes)
    measured = run_workload("aep", {"path": str(data.path)})
    assert (measured.result["rows"], measured.result["rejected"]) == (2000, 0)
    assert measured.result["part_bytes"] == expected
    assert measured.result["loop_cpu_seconds"] > 0
    assert 10 < measured.peak_rss_mb < 150


def test_the_aep_stage_passes_cover_every_row(data_dir: Path) -> None:
    data = datagen.dataset(datagen.AEP_PROFILE, 300, seed=5)
    split = aep.stages({"path": str(data.path), "rounds": 1})
    assert split["rows"] == 300
    assert list(split["us_per_row"]) == [name for name, _ in aep.STAGES]
