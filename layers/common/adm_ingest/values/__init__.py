"""Reading values at the input edge — money, counts, timestamps — exactly, or rejecting them
with a reason; never guessing a decimal separator, a day/month order or a time zone.

One module per concept: :mod:`.options` (what the mapping config states about a file),
:mod:`.numbers` (separators), :mod:`.money`, :mod:`.quantity`, :mod:`.timestamps`.
Rejections are :class:`ValueProblem` (a reason code and a detail that never quotes the value).
"""

from adm_ingest.values.money import MINOR_UNITS, Money, parse_money
from adm_ingest.values.options import ParseOptions
from adm_ingest.values.problems import ValueProblem
from adm_ingest.values.quantity import parse_units
from adm_ingest.values.timestamps import ParsedTimestamp, parse_timestamp

__all__ = [
    "MINOR_UNITS",
    "Money",
    "ParseOptions",
    "ParsedTimestamp",
    "ValueProblem",
    "parse_money",
    "parse_timestamp",
    "parse_units",
]
