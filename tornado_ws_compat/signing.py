"""Signed values in Tornado's format, as used by ``set_signed_cookie``/``get_signed_cookie``.

Values created here decode with ``tornado.web.decode_signed_value`` and the other way round
(Tornado 6.6.1, formats introduced in Tornado 3.2.1). Stdlib only.

Format v1: ``base64(value)|timestamp|hex(HMAC-SHA1(secret, name + base64 + timestamp))``.

Format v2: ``2|<len>:<key version>|<len>:<timestamp>|<len>:<name>|<len>:<base64(value)>|`` followed
by ``hex(HMAC-SHA256(secret, everything before it))``; lengths are decimal byte counts.

Decoding never raises for a malformed, tampered or expired value: it returns ``None``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeAlias

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "SecretType",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

#: A secret, or a dict ``{key_version: secret}`` for key rotation (v2 only, as Tornado 6.6.1).
SecretType: TypeAlias = str | bytes | Mapping[int, str | bytes]

#: The oldest format this module decodes (Tornado 3.2.1).
MIN_SUPPORTED_SIGNED_VALUE_VERSION = 1
#: The newest format this module decodes (Tornado 3.2.1).
MAX_SUPPORTED_SIGNED_VALUE_VERSION = 2
#: The format `create_signed_value` writes when ``version`` is None (Tornado 3.2.1).
DEFAULT_SIGNED_VALUE_VERSION = 2
#: The oldest format `decode_signed_value` accepts when ``min_version`` is None (Tornado 3.2.1).
DEFAULT_SIGNED_VALUE_MIN_VERSION = 1

# Tornado logs rejected v1 values on ``tornado.general``; v2 rejections are silent.
_gen_log = logging.getLogger("tornado.general")

_SECONDS_PER_DAY = 86400
# v1 timestamps more than this far in the future are rejected (Tornado 3.2.1).
_V1_MAX_FUTURE_SECONDS = 31 * _SECONDS_PER_DAY
# A leading decimal version without leading zeros, then a pipe. v1 values have no version
# field and begin with base64, which may look like a number; such numbers are above 999.
_VERSION_PREFIX = re.compile(rb"([1-9][0-9]{0,2})\|")
# No v2 length field needs more digits; this also keeps int() away from huge strings.
_MAX_LENGTH_DIGITS = 10


def _utf8(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected str or bytes, got {type(value).__name__}")


def _signature_v1(secret: str | bytes, *parts: bytes) -> bytes:
    mac = hmac.new(_utf8(secret), digestmod=hashlib.sha1)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode("ascii")


def _signature_v2(secret: str | bytes, signed: bytes) -> bytes:
    return hmac.new(_utf8(secret), signed, hashlib.sha256).hexdigest().encode("ascii")


def _v2_field(data: bytes) -> bytes:
    return b"%d:%s|" % (len(data), data)


def create_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes,
    version: int | None = None,
    clock: Callable[[], float] | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign and timestamp ``value`` under ``name``, as ``tornado.web.create_signed_value``.

    ``version`` defaults to 2 (Tornado 3.2.1). A dict ``secret`` needs v2 and ``key_version``.
    Raises ValueError for an unsupported version or an invalid secret/key_version combination.
    """
    if version is None:
        version = DEFAULT_SIGNED_VALUE_VERSION
    if clock is None:
        clock = time.time
    timestamp = b"%d" % int(clock())
    encoded = base64.b64encode(_utf8(value))
    if version == 1:
        if isinstance(secret, Mapping):
            raise ValueError("signed value version 1 does not support key versions")
        signature = _signature_v1(secret, _utf8(name), encoded, timestamp)
        return b"|".join((encoded, timestamp, signature))
    if version == 2:
        # Lengths are byte counts. Tornado 6.6.1 writes the character count of ``name``,
        # which its own decoder rejects for a non-ASCII name; byte counts decode in both.
        to_sign = b"".join(
            (
                b"2|",
                _v2_field(b"%d" % (key_version or 0)),
                _v2_field(timestamp),
                _v2_field(_utf8(name)),
                _v2_field(encoded),
            )
        )
        if isinstance(secret, Mapping):
            if key_version is None:
                raise ValueError("key_version is required when secret is a dict")
            secret = secret[key_version]
        return to_sign + _signature_v2(secret, to_sign)
    raise ValueError(f"Unsupported version {version}")


def _version_of(value: bytes) -> int:
    match = _VERSION_PREFIX.match(value)
    return 1 if match is None else int(match.group(1))


def _split_v2(value: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes, int] | None:
    """Return (key version, timestamp, name, value, signature, signed length) or None."""
    fields: list[bytes] = []
    pos = 2  # after b"2|"
    for _ in range(4):
        colon = value.find(b":", pos, pos + _MAX_LENGTH_DIGITS + 1)
        if colon < 0:
            return None
        digits = value[pos:colon]
        if not digits.isdigit():
            return None
        end = colon + 1 + int(digits)
        if value[end : end + 1] != b"|":
            return None
        fields.append(value[colon + 1 : end])
        pos = end + 1
    key_version, timestamp, name, payload = fields
    return key_version, timestamp, name, payload, value[pos:], pos


def _parse_int(data: bytes) -> int | None:
    try:
        return int(data)
    except ValueError:  # not a number, or longer than sys.get_int_max_str_digits()
        return None


def _b64decode(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return None


def _decode_v1(
    secret: str | bytes, name: str, value: bytes, max_age_days: float, now: float
) -> bytes | None:
    parts = value.split(b"|")
    if len(parts) != 3:
        return None
    encoded, timestamp_field, signature = parts
    expected = _signature_v1(secret, _utf8(name), encoded, timestamp_field)
    if not hmac.compare_digest(signature, expected):
        _gen_log.warning("Invalid cookie signature %r", value)
        return None
    timestamp = _parse_int(timestamp_field)
    if timestamp is None:
        return None
    if timestamp < now - max_age_days * _SECONDS_PER_DAY:
        _gen_log.warning("Expired cookie %r", value)
        return None
    # v1 signs the fields without a delimiter, so trailing digits of the payload could be
    # moved into the timestamp: reject far-future and zero-padded timestamps (Tornado 3.2.1).
    if timestamp > now + _V1_MAX_FUTURE_SECONDS:
        _gen_log.warning("Cookie timestamp in future; possible tampering %r", value)
        return None
    if timestamp_field.startswith(b"0"):
        _gen_log.warning("Tampered cookie %r", value)
        return None
    return _b64decode(encoded)


def _decode_v2(
    secret: SecretType, name: str, value: bytes, max_age_days: float, now: float
) -> bytes | None:
    split = _split_v2(value)
    if split is None:
        return None
    key_field, timestamp_field, name_field, encoded, signature, signed_length = split
    key_version = _parse_int(key_field)
    if key_version is None:
        return None
    if isinstance(secret, Mapping):
        if key_version not in secret:
            return None
        secret = secret[key_version]
    expected = _signature_v2(secret, value[:signed_length])
    if not hmac.compare_digest(signature, expected):
        return None
    if name_field != _utf8(name):
        return None
    timestamp = _parse_int(timestamp_field)
    if timestamp is None or timestamp < now - max_age_days * _SECONDS_PER_DAY:
        return None
    return _b64decode(encoded)


def decode_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes | None,
    max_age_days: float = 31,
    clock: Callable[[], float] | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """Return the value signed by `create_signed_value`, or None if it does not verify.

    As ``tornado.web.decode_signed_value``: v1 and v2 accepted unless ``min_version`` is 2
    (Tornado 3.2.1); values older than ``max_age_days`` are rejected. Garbage gives None, also
    a v1 value with a dict secret (where Tornado 6.6.1 fails an assertion).
    """
    if clock is None:
        clock = time.time
    if min_version is None:
        min_version = DEFAULT_SIGNED_VALUE_MIN_VERSION
    if min_version > MAX_SUPPORTED_SIGNED_VALUE_VERSION:
        raise ValueError(f"Unsupported min_version {min_version}")
    if not value:
        return None
    try:
        raw = _utf8(value)
    except UnicodeEncodeError:  # lone surrogates cannot have been produced by a signer
        return None
    version = _version_of(raw)
    if version < min_version:
        return None
    if version == 1:
        if isinstance(secret, Mapping):
            return None
        return _decode_v1(secret, name, raw, max_age_days, clock())
    if version == 2:
        return _decode_v2(secret, name, raw, max_age_days, clock())
    return None


def get_signature_key_version(value: str | bytes) -> int | None:
    """Return the key version of a v2 signed value; None for v1 or malformed input.

    The signature is not checked: use this only to pick the key for `decode_signed_value`.
    """
    try:
        raw = _utf8(value)
    except UnicodeEncodeError:
        return None
    if _version_of(raw) != 2:
        return None
    split = _split_v2(raw)
    return None if split is None else _parse_int(split[0])
