"""Suite-wide settings.

Hypothesis' per-example deadline (200 ms) measures the machine as much as the code: on a loaded
2-core CI runner a property test that takes 30 ms alone can take 400 ms, and fail as "flaky".
Speed is measured by the benchmarks (``make bench``), not by tests, so the deadline is off.
"""

from hypothesis import settings

settings.register_profile("adm-ingest", deadline=None)
settings.load_profile("adm-ingest")
