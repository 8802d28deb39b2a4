"""Signed values: the cookie format behind ``set_signed_cookie``.

Pure functions, no I/O and no handler. The wire formats are Tornado's, byte for byte, so
a cookie signed by a Tornado application verifies here and the other way round; an
application can move between the two without logging its users out.

Version 1 (legacy, HMAC-SHA1, kept for reading old cookies)::

    base64(value) | timestamp | hex(hmac_sha1(secret, name + base64(value) + timestamp))

Version 2 (the default, HMAC-SHA256)::

    2|1:<key version>|<n>:<timestamp>|<n>:<name>|<n>:<base64(value)>|<hex signature>

Each field of version 2 carries its own length, so no byte of a name or value can shift
the boundaries between fields; the signature covers everything before it, including the
trailing ``|``. ``secret`` may be a dict ``{key_version: secret}`` (key rotation): the
version written into the value picks the secret that checks it.

>>> signed = create_signed_value("secret", "user", "alice")
>>> decode_signed_value("secret", "user", signed)
b'alice'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

from tornadish.log import gen_log

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "SecretType",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

DEFAULT_SIGNED_VALUE_VERSION = 2
"""The format :func:`create_signed_value` writes when no ``version`` is given."""

DEFAULT_SIGNED_VALUE_MIN_VERSION = 1
"""The oldest format :func:`decode_signed_value` accepts when no ``min_version`` is
given (1, so cookies written by old applications still verify)."""

SecretType = str | bytes | Mapping[int, str | bytes]
"""A secret, or a ``{key_version: secret}`` mapping for key rotation."""

_SECONDS_PER_DAY = 86400
# A version-2 value starts "2|"; a version-1 value starts with base64, which may begin
# with digits too -- hence the plausibility bound in _get_version.
_VERSION_PREFIX = re.compile(rb"^([1-9][0-9]*)\|")


def _utf8(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def create_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes,
    version: int | None = None,
    clock: Callable[[], float] | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign and timestamp ``value`` so it can be stored in a cookie named ``name``.

    ``version`` is 2 (HMAC-SHA256, default) or 1 (HMAC-SHA1, for old readers; no key
    rotation). With a dict ``secret``, ``key_version`` picks the key and is recorded
    in the value. ``clock`` replaces ``time.time`` (tests).

    >>> create_signed_value({1: "old", 2: "new"}, "n", "v", key_version=2)[:7]
    b'2|1:2|1'
    """
    if version is None:
        version = DEFAULT_SIGNED_VALUE_VERSION
    now = (clock or time.time)()
    timestamp = str(int(now)).encode("ascii")
    encoded = base64.b64encode(_utf8(value))
    if version == 1:
        if isinstance(secret, Mapping):
            raise ValueError("Version 1 signed values do not support key rotation")
        signature = _signature_v1(secret, _utf8(name), encoded, timestamp)
        return b"|".join([encoded, timestamp, signature])
    if version == 2:
        to_sign = b"|".join(
            [
                b"2",
                _field(str(key_version or 0).encode("ascii")),
                _field(timestamp),
                _field(_utf8(name)),
                _field(encoded),
                b"",
            ]
        )
        if isinstance(secret, Mapping):
            if key_version is None:
                raise ValueError("key_version is required when secret is a dict")
            secret = secret[key_version]
        return to_sign + _signature_v2(secret, to_sign)
    raise ValueError("Unsupported version %d" % version)


def decode_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes | None,
    max_age_days: float = 31,
    clock: Callable[[], float] | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """The original bytes of a value made by :func:`create_signed_value`, or ``None``.

    ``None`` (never an exception) when the value is missing, malformed, signed with
    another secret or for another ``name``, older than ``max_age_days``, signed with
    a key version ``secret`` does not know, or in a format older than ``min_version``.
    Each rejection is logged on ``tornadish.general``: a bad signature, an expired or
    tampered version-1 value at WARNING (as Tornado does), every other reason at DEBUG.
    """
    if min_version is None:
        min_version = DEFAULT_SIGNED_VALUE_MIN_VERSION
    if min_version > 2:
        raise ValueError("Unsupported min_version %d" % min_version)
    if not value:
        return None
    raw = _utf8(value)
    version = _get_version(raw)
    if version < min_version:
        gen_log.debug("Signed value for %r has version %d < %d", name, version, min_version)
        return None
    now = (clock or time.time)()
    if version == 1:
        if isinstance(secret, Mapping):
            # A rotating-key application cannot check a v1 value (no key version in
            # it); refuse it like a bad signature rather than guess a key.
            gen_log.warning("Version 1 cookie %r cannot be checked with a key dict", name)
            return None
        return _decode_v1(secret, name, raw, max_age_days, now)
    if version == 2:
        return _decode_v2(secret, name, raw, max_age_days, now)
    gen_log.debug("Signed value for %r has unknown version %d", name, version)
    return None


def get_signature_key_version(value: str | bytes) -> int | None:
    """The key version recorded in a version-2 signed value (``None`` for version 1 or
    a malformed value). The signature is not checked."""
    raw = _utf8(value)
    if _get_version(raw) < 2:
        return None
    try:
        return _split_v2(raw)[0]
    except ValueError:
        return None


def _get_version(value: bytes) -> int:
    m = _VERSION_PREFIX.match(value)
    if m is None:
        return 1
    version = int(m.group(1))
    # A version-1 value whose base64 part happens to be all digits ("1234|...") reads
    # like a huge version number; real versions are tiny.
    if version > 999:
        return 1
    return version


def _field(s: bytes) -> bytes:
    return b"%d:%s" % (len(s), s)


def _signature_v1(secret: str | bytes, *parts: bytes) -> bytes:
    mac = hmac.new(_utf8(secret), digestmod=hashlib.sha1)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode("ascii")


def _signature_v2(secret: str | bytes, s: bytes) -> bytes:
    return hmac.new(_utf8(secret), s, digestmod=hashlib.sha256).hexdigest().encode("ascii")


def _create_signature_v1(secret: str | bytes, *parts: str | bytes) -> bytes:
    """Tornado's name: the v1 (HMAC-SHA1, hex) signature of ``parts``, str or bytes."""
    return _signature_v1(secret, *(_utf8(part) for part in parts))


def _create_signature_v2(secret: str | bytes, s: str | bytes) -> bytes:
    """Tornado's name: the v2 (HMAC-SHA256, hex) signature of ``s``, str or bytes."""
    return _signature_v2(secret, _utf8(s))


def _decode_v1(
    secret: str | bytes, name: str, value: bytes, max_age_days: float, now: float
) -> bytes | None:
    parts = value.split(b"|")
    if len(parts) != 3:
        gen_log.debug("Malformed cookie %r", value)
        return None
    encoded, timestamp_bytes, passed = parts
    expected = _signature_v1(secret, _utf8(name), encoded, timestamp_bytes)
    if not hmac.compare_digest(passed, expected):
        gen_log.warning("Invalid cookie signature %r", value)
        return None
    try:
        timestamp = int(timestamp_bytes)
    except ValueError:
        gen_log.debug("Malformed cookie timestamp %r", value)
        return None
    if timestamp < now - max_age_days * _SECONDS_PER_DAY:
        gen_log.warning("Expired cookie %r", value)
        return None
    if timestamp > now + 31 * _SECONDS_PER_DAY:
        # A timestamp far ahead is a sign that someone re-split a value to move bytes
        # between the (unseparated) signed parts.
        gen_log.warning("Cookie timestamp in future; possible tampering %r", value)
        return None
    if timestamp_bytes.startswith(b"0"):
        # A leading zero would let "value1" + "0123" sign the same as "value10" + "123".
        gen_log.warning("Tampered cookie %r", value)
        return None
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        gen_log.debug("Cookie value is not base64 %r", value)
        return None


def _split_v2(value: bytes) -> tuple[int, bytes, bytes, bytes, bytes]:
    """(key version, timestamp, name, base64 value, signature); ValueError if malformed."""
    rest = value[2:]  # past "2|"
    fields: list[bytes] = []
    for _ in range(4):
        length, sep, rest = rest.partition(b":")
        if not sep or not length.isdigit():
            raise ValueError("malformed length in v2 signed value")
        n = int(length)
        if rest[n : n + 1] != b"|":
            raise ValueError("malformed v2 signed value field")
        fields.append(rest[:n])
        rest = rest[n + 1 :]
    if not fields[0].isdigit():
        raise ValueError("malformed key version in v2 signed value")
    return int(fields[0]), fields[1], fields[2], fields[3], rest


def _decode_v2(
    secret: SecretType, name: str, value: bytes, max_age_days: float, now: float
) -> bytes | None:
    # Tornado rejects version-2 values silently; we log the reason at DEBUG (never the
    # value, which may be someone's valid session) so a rotation or secret mix-up can be
    # traced without every stale or forged cookie reaching the production log.
    try:
        key_version, timestamp_bytes, name_field, encoded, passed = _split_v2(value)
    except ValueError:
        gen_log.debug("Malformed signed cookie %r", name)
        return None
    if isinstance(secret, Mapping):
        key = secret.get(key_version)
        if key is None:
            gen_log.debug("Signed cookie %r uses unknown key version %d", name, key_version)
            return None
    else:
        key = secret
    expected = _signature_v2(key, value[: len(value) - len(passed)])
    if not hmac.compare_digest(passed, expected):
        gen_log.debug("Invalid signature for signed cookie %r", name)
        return None
    if name_field != _utf8(name):
        gen_log.debug("Signed cookie %r was signed for another name", name)
        return None
    try:
        timestamp = int(timestamp_bytes)
    except ValueError:
        gen_log.debug("Malformed timestamp in signed cookie %r", name)
        return None
    if timestamp < now - max_age_days * _SECONDS_PER_DAY:
        gen_log.debug("Expired signed cookie %r", name)
        return None
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        gen_log.debug("Signed cookie %r is not base64", name)
        return None
