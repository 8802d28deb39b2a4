"""Signed values: Tornado's formats both ways, key rotation, expiry, tampering."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import tornado.web
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._web.signing import (
    _create_signature_v1,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)

SECRET = "0123456789abcdef-secret"
NOW = 1_700_000_000.0
KEYS: dict[int, Any] = {0: "key zero", 1: b"key one", 2: "key two"}  # mixed, as Tornado allows


def clock() -> float:
    return NOW


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", ["alice", "ünïcode ✓", "a|b|c:d", ""])
def test_tornado_signed_values_verify_here(version: int, value: str) -> None:
    signed = tornado.web.create_signed_value(SECRET, "user", value, version=version, clock=clock)
    assert decode_signed_value(SECRET, "user", signed, clock=clock) == value.encode()


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", ["alice", "ünïcode ✓", "a|b|c:d", ""])
def test_our_signed_values_verify_in_tornado(version: int, value: str) -> None:
    signed = create_signed_value(SECRET, "user", value, version=version, clock=clock)
    assert tornado.web.decode_signed_value(SECRET, "user", signed, clock=clock) == value.encode()


@pytest.mark.parametrize("version", [1, 2])
def test_output_is_byte_identical_to_tornado(version: int) -> None:
    ours = create_signed_value(SECRET, "n", b"\x00\xffbytes", version=version, clock=clock)
    theirs = tornado.web.create_signed_value(
        SECRET, "n", b"\x00\xffbytes", version=version, clock=clock
    )
    assert ours == theirs


def test_default_version_is_2() -> None:
    assert create_signed_value(SECRET, "n", "v").startswith(b"2|1:0|")


def test_key_rotation_compatible_with_tornado() -> None:
    for key_version in KEYS:
        ours = create_signed_value(KEYS, "n", "v", clock=clock, key_version=key_version)
        theirs = tornado.web.create_signed_value(
            KEYS, "n", "v", clock=clock, key_version=key_version
        )
        assert ours == theirs
        assert get_signature_key_version(ours) == key_version
        assert tornado.web.get_signature_key_version(ours) == key_version
        assert decode_signed_value(KEYS, "n", theirs, clock=clock) == b"v"


def test_key_rotation_old_key_still_verifies_until_dropped() -> None:
    signed = create_signed_value(KEYS, "n", "v", key_version=1, clock=clock)
    assert decode_signed_value({1: KEYS[1], 2: KEYS[2]}, "n", signed, clock=clock) == b"v"
    assert decode_signed_value({2: KEYS[2]}, "n", signed, clock=clock) is None


def test_key_dict_needs_key_version() -> None:
    with pytest.raises(ValueError):
        create_signed_value(KEYS, "n", "v")
    with pytest.raises(ValueError):
        create_signed_value(KEYS, "n", "v", version=1, key_version=1)


def test_v1_value_refused_by_key_dict() -> None:
    signed = create_signed_value(SECRET, "n", "v", version=1, clock=clock)
    assert decode_signed_value(KEYS, "n", signed, clock=clock) is None


def test_key_version_of_v1_and_garbage_is_none() -> None:
    assert get_signature_key_version(create_signed_value(SECRET, "n", "v", version=1)) is None
    assert get_signature_key_version("2|garbage") is None
    assert get_signature_key_version("") is None


@pytest.mark.parametrize("version", [1, 2])
def test_expiry(version: int) -> None:
    signed = create_signed_value(SECRET, "n", "v", version=version, clock=clock)

    def later(days: float) -> float:
        return NOW + days * 86400

    assert decode_signed_value(SECRET, "n", signed, clock=lambda: later(30.9)) == b"v"
    assert decode_signed_value(SECRET, "n", signed, clock=lambda: later(31.1)) is None
    assert decode_signed_value(SECRET, "n", signed, max_age_days=1, clock=lambda: later(2)) is None
    # Tornado agrees on both sides of the boundary.
    assert tornado.web.decode_signed_value(SECRET, "n", signed, clock=lambda: later(31.1)) is None


def test_v1_timestamp_in_future_refused(caplog: pytest.LogCaptureFixture) -> None:
    signed = create_signed_value(SECRET, "n", "v", version=1, clock=lambda: NOW + 40 * 86400)
    with caplog.at_level(logging.WARNING, logger="tornadish.general"):
        assert decode_signed_value(SECRET, "n", signed, clock=clock) is None
    assert "timestamp in future" in caplog.text


@pytest.mark.parametrize("version", [1, 2])
def test_wrong_secret_or_name(version: int, caplog: pytest.LogCaptureFixture) -> None:
    signed = create_signed_value(SECRET, "user", "v", version=version, clock=clock)
    with caplog.at_level(logging.DEBUG, logger="tornadish.general"):
        assert decode_signed_value("other", "user", signed, clock=clock) is None
        assert decode_signed_value(SECRET, "admin", signed, clock=clock) is None
    assert len(caplog.records) == 2
    # Like Tornado: a refused v1 signature is a WARNING, a refused v2 value is not
    # logged at INFO or above (only at DEBUG, with its reason).
    expected = logging.WARNING if version == 1 else logging.DEBUG
    assert [r.levelno for r in caplog.records] == [expected, expected]


def test_malformed_values_logged_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    v2 = create_signed_value(SECRET, "n", "v", clock=clock)
    bad_ts = b"not-a-number"
    v1 = b"|".join([b"dg==", bad_ts, _create_signature_v1(SECRET, "n", b"dg==", bad_ts)])
    with caplog.at_level(logging.DEBUG, logger="tornadish.general"):
        assert decode_signed_value(SECRET, "n", v1, clock=clock) is None
        assert decode_signed_value(SECRET, "n", v2.replace(b"|1:0|", b"|1:x|"), clock=clock) is None
        assert decode_signed_value({1: SECRET}, "n", v2, clock=clock) is None
    assert len(caplog.records) == 3
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.parametrize("version", [1, 2])
def test_every_single_byte_change_is_refused(version: int) -> None:
    signed = create_signed_value(SECRET, "n", "value", version=version, clock=clock)
    for i in range(len(signed)):
        for replacement in (b"0", b"z", b"|"):
            tampered = signed[:i] + replacement + signed[i + 1 :]
            if tampered == signed:
                continue
            assert decode_signed_value(SECRET, "n", tampered, clock=clock) is None, tampered


def test_v1_leading_zero_timestamp_refused(caplog: pytest.LogCaptureFixture) -> None:
    # A correct signature over a re-split value: the bytes moved from the value into a
    # zero-padded timestamp still sign the same.
    import base64
    import hashlib
    import hmac

    value, ts = base64.b64encode(b"v"), b"0" + str(int(NOW)).encode()
    sig = hmac.new(SECRET.encode(), b"n" + value + ts, hashlib.sha1).hexdigest().encode()
    with caplog.at_level(logging.WARNING, logger="tornadish.general"):
        assert decode_signed_value(SECRET, "n", b"|".join([value, ts, sig]), clock=clock) is None
    assert "Tampered" in caplog.text


def test_min_version() -> None:
    v1 = create_signed_value(SECRET, "n", "v", version=1, clock=clock)
    assert decode_signed_value(SECRET, "n", v1, clock=clock, min_version=2) is None
    assert decode_signed_value(SECRET, "n", v1, clock=clock, min_version=1) == b"v"
    with pytest.raises(ValueError):
        decode_signed_value(SECRET, "n", v1, min_version=3)


@pytest.mark.parametrize(
    "garbage",
    [None, "", "x", "2|", "2|1:0", "2|1:0|10:1700000000|1:n|", "2|x:0|", "2|99:0|", "3|x", "|||"],
)
def test_garbage_is_none_not_an_error(garbage: str | None) -> None:
    assert decode_signed_value(SECRET, "n", garbage, clock=clock) is None


def test_unsupported_version_to_create() -> None:
    with pytest.raises(ValueError):
        create_signed_value(SECRET, "n", "v", version=3)


@settings(max_examples=60, deadline=None)
@given(
    value=st.binary(max_size=64),
    name=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
    version=st.sampled_from([1, 2]),
    key_version=st.sampled_from([None, 0, 1, 2]),
)
def test_round_trip_and_tornado_agree(
    value: bytes, name: str, version: int, key_version: int | None
) -> None:
    if version == 1 or key_version is None:
        secret: str | dict[int, Any] = SECRET
        key_version = None
    else:
        secret = KEYS
    ours = create_signed_value(
        secret, name, value, version=version, clock=clock, key_version=key_version
    )
    assert decode_signed_value(secret, name, ours, clock=clock) == value
    assert tornado.web.decode_signed_value(secret, name, ours, clock=clock) == value
    theirs = tornado.web.create_signed_value(
        secret, name, value, version=version, clock=clock, key_version=key_version
    )
    assert ours == theirs
