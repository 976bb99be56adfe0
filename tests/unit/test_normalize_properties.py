"""Properties every normalizer and ``hash_pii`` must keep, for any input at all."""

from __future__ import annotations

import hashlib
import string
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adm_ingest.normalize import (
    NORMALIZERS,
    hash_pii,
    is_sha256_hex,
    normalize_address,
    normalize_city,
    normalize_email,
    normalize_name,
    normalize_postal,
    normalize_state,
    sha256_hex,
)
from adm_ingest.normalize.address import address_words
from adm_ingest.normalize.pii import HASHERS
from adm_ingest.normalize.placeholders import EMPTY_FORMS, KNOWN_EMPTY_DIGESTS, RAW_PLACEHOLDERS
from adm_ingest.records import PII_FIELDS

EMPTY_HASH = hashlib.sha256(b"").hexdigest()
COUNTRIES = st.sampled_from(["US", "CA", "GB", "FR", "DE", "ES", "IT", "JP", "IN", "BR", "uk", ""])
# Mostly realistic CRM text, with arbitrary Unicode mixed in.
TEXT = st.one_of(
    st.text(alphabet=string.printable + "äöüßøæÄÖÜẞéñÉ#-,()!/", max_size=40),
    st.text(max_size=40),
)
HEX64 = st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)


def test_normalizers_cover_exactly_the_canonical_pii_fields() -> None:
    assert tuple(NORMALIZERS) == PII_FIELDS


@settings(max_examples=400)
@given(field=st.sampled_from(PII_FIELDS), value=TEXT, country=COUNTRIES)
def test_hash_pii_is_none_or_64_lowercase_hex_and_never_the_empty_hash(
    field: str, value: str, country: str
) -> None:
    digest = hash_pii(field, value, country)
    assert digest is None or (is_sha256_hex(digest) and digest == digest.lower())
    assert digest != EMPTY_HASH


@given(field=st.sampled_from(PII_FIELDS), value=TEXT, country=COUNTRIES)
def test_hash_pii_hashes_exactly_the_normalized_value(field: str, value: str, country: str) -> None:
    assume(not is_sha256_hex(value.strip()))
    normalized = NORMALIZERS[field](value, country)
    placeholder = (
        normalized in EMPTY_FORMS[field]
        or value.strip().lower() in RAW_PLACEHOLDERS[field]  # "N/A" as a name
    )
    expected = sha256_hex(normalized) if normalized and not placeholder else None
    assert hash_pii(field, value, country) == expected


@given(
    field=st.sampled_from(PII_FIELDS),
    digest=HEX64,
    pad=st.sampled_from(["", " ", "\t", "  \n"]),
    declared=st.booleans(),
)
def test_prehashed_values_pass_through_lowercased(
    field: str, digest: str, pad: str, declared: bool
) -> None:
    assert hash_pii(field, pad + digest + pad, "US", declared_hashed=declared) == digest.lower()


@given(field=st.sampled_from(PII_FIELDS), value=TEXT)
def test_declared_hashed_column_without_a_hash_is_omitted(field: str, value: str) -> None:
    assume(not is_sha256_hex(value.strip()))
    assert hash_pii(field, value, "US", declared_hashed=True) is None


@pytest.mark.parametrize("field", PII_FIELDS)
@pytest.mark.parametrize("declared", [False, True])
def test_a_hash_of_the_empty_string_sent_as_a_value_is_omitted_not_forwarded(
    field: str, declared: bool
) -> None:
    # It *is* 64 hex characters, so it is someone's hash — of nothing: it matches nobody.
    assert hash_pii(field, EMPTY_HASH.upper(), "US", declared_hashed=declared) is None
    assert hash_pii(field, f" {EMPTY_HASH} ", "US", declared_hashed=declared) is None
    assert hash_pii(field, "   ", "US") is None


@settings(max_examples=300)
@given(field=st.sampled_from(PII_FIELDS), value=TEXT, country=COUNTRIES)
def test_no_digest_we_send_is_a_known_empty_one(field: str, value: str, country: str) -> None:
    digest = hash_pii(field, value, country)
    assert digest is None or digest not in KNOWN_EMPTY_DIGESTS[field]


@pytest.mark.parametrize("field", PII_FIELDS)
def test_lone_surrogates_are_omitted_not_raised(field: str) -> None:
    assert hash_pii(field, "12 Main\ud800 St", "US") in (None, hash_pii(field, "12 Main St", "US"))


def test_unknown_field_raises_naming_only_the_field() -> None:
    with pytest.raises(KeyError) as raised:
        hash_pii("favourite_colour", "secret@example.com", "US")
    assert "secret" not in str(raised.value)


@given(value=TEXT, country=COUNTRIES)
def test_nfc_and_nfd_spellings_normalize_identically(value: str, country: str) -> None:
    nfd = unicodedata.normalize("NFD", value)
    for normalize in NORMALIZERS.values():
        assert normalize(nfd, country) == normalize(value, country)


@given(value=TEXT, country=COUNTRIES)
def test_surrounding_whitespace_and_bom_do_not_matter(value: str, country: str) -> None:
    for normalize in NORMALIZERS.values():
        assert normalize("\ufeff  " + value + " \t", country) == normalize(value, country)


@given(value=TEXT)
def test_name_is_idempotent_and_lowercase_alphanumeric(value: str) -> None:
    once = normalize_name(value)
    assert once is None or (once.isascii() and once.isalnum() and once == once.lower())
    if once is not None:
        assert normalize_name(once) == once


@given(value=TEXT)
def test_city_is_idempotent_and_lowercase_alphanumeric(value: str) -> None:
    once = normalize_city(value)
    assert once is None or (once.isascii() and once.isalnum() and once == once.lower())
    if once is not None:
        assert normalize_city(once) == once


@given(value=TEXT)
def test_email_is_idempotent_and_has_an_at_sign(value: str) -> None:
    once = normalize_email(value)
    if once is not None:
        assert "@" in once[1:] and " " not in once and "+" not in once
        assert normalize_email(once) == once


@given(value=TEXT, country=COUNTRIES)
def test_state_is_lowercase_letters_and_idempotent_for_ascii(value: str, country: str) -> None:
    once = normalize_state(value, country)
    assert once is None or (once.isascii() and once.isalpha() and once == once.lower())
    if value.isascii() and once is not None:
        # ASCII cannot grow when upper-cased, so the result is a code of at most 2 letters.
        assert len(once) <= 2
        assert normalize_state(once, country) == once


@given(value=TEXT, country=COUNTRIES)
def test_postal_is_idempotent(value: str, country: str) -> None:
    once = normalize_postal(value, country)
    if once is not None:
        assert normalize_postal(once, country) == once


@given(digits=st.text(alphabet="0123456789", min_size=5, max_size=12), sep=st.sampled_from("- "))
def test_us_postal_keeps_the_first_five_digits(digits: str, sep: str) -> None:
    raw = digits[:5] + sep + digits[5:]
    assert normalize_postal(raw, "US") == digits[:5]


@given(value=TEXT, country=COUNTRIES)
def test_address_has_no_whitespace_and_is_stable_for_plain_single_tokens(
    value: str, country: str
) -> None:
    once = normalize_address(value, country)
    if once is None:
        return
    assert not any(char.isspace() for char in once)
    # Idempotence does not hold in general (a "#" left in the output is split and mapped
    # to NUMBER on a second pass). It does hold for a plain ASCII alphanumeric result that
    # is not itself a word of the country's map.
    if once.isascii() and once.isalnum() and once.upper() not in address_words(country):
        assert normalize_address(once, country) == once


@given(words=st.lists(st.sampled_from(["MAIN", "OAK", "12", "7B", "ELM"]), min_size=1, max_size=6))
def test_address_joins_tokens_without_separator(words: list[str]) -> None:
    assert normalize_address(" ".join(words), "US") == "".join(words).lower()


@given(field=st.sampled_from(PII_FIELDS), value=TEXT, country=COUNTRIES)
def test_normalizers_never_raise(field: str, value: str, country: str) -> None:
    # An exception could carry the raw value into a log line; normalizers must not raise.
    NORMALIZERS[field](value, country)


EMAIL_LIKE = st.builds(
    lambda local, at, domain: local + at + domain,
    st.text(alphabet=string.ascii_letters + string.digits + "._+-!# ", max_size=12),
    st.sampled_from(["@", "@@", "", " @ "]),
    st.text(alphabet=string.ascii_letters + ".-_@ ", max_size=12),
)


@given(value=st.one_of(EMAIL_LIKE, TEXT, HEX64), country=COUNTRIES)
def test_the_email_fast_path_hashes_exactly_like_the_email_rule(value: str, country: str) -> None:
    # HASHERS["email"] hashes the ASCII rule's bytes directly; it must agree with the rule.
    stripped = value.strip()
    assume(not is_sha256_hex(stripped))
    normalized = normalize_email(stripped, country)
    assert HASHERS["email"](stripped, country) == (sha256_hex(normalized) if normalized else None)
