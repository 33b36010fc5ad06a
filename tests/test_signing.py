"""Signed values: byte-for-byte and round-trip compatibility with Tornado 6.6.1's tornado.web."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tornado import web as tornado_web

from tornado_ws_compat import signing

NOW = 1_700_000_000.5
DAY = 86400.0


def clock() -> float:
    return NOW


def later(days: float) -> Callable[[], float]:
    return lambda: NOW + days * DAY


SECRETS = ["secret-key", b"secret-key"]
VALUES: list[str | bytes] = [
    "hello",
    b"hello",
    "",
    "caf\u00e9 \u2603",
    b"\x00\xff|:\n",
    "a" * 1000,
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("value", VALUES)
def test_same_bytes_as_tornado(version: int, secret: str | bytes, value: str | bytes) -> None:
    ours = signing.create_signed_value(secret, "session", value, version=version, clock=clock)
    theirs = tornado_web.create_signed_value(
        secret, "session", value, version=version, clock=clock
    )
    assert ours == theirs


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", VALUES)
def test_round_trip_both_ways(version: int, value: str | bytes) -> None:
    expected = value.encode() if isinstance(value, str) else value
    ours = signing.create_signed_value("k", "n", value, version=version, clock=clock)
    theirs = tornado_web.create_signed_value("k", "n", value, version=version, clock=clock)
    for signed in (ours, theirs, ours.decode()):
        assert signing.decode_signed_value("k", "n", signed, clock=clock) == expected
        assert tornado_web.decode_signed_value("k", "n", signed, clock=clock) == expected


def test_default_version_is_2() -> None:
    signed = signing.create_signed_value("k", "n", "v", clock=clock)
    assert signed.startswith(b"2|1:0|10:1700000000|1:n|4:dg==|")
    assert signed == tornado_web.create_signed_value("k", "n", "v", clock=clock)
    assert signing.DEFAULT_SIGNED_VALUE_VERSION == tornado_web.DEFAULT_SIGNED_VALUE_VERSION


def test_key_versions() -> None:
    keys: dict[int, str | bytes] = {0: "old", 1: b"new"}
    ours = signing.create_signed_value(keys, "n", "v", clock=clock, key_version=1)
    theirs = tornado_web.create_signed_value(
        keys,  # type: ignore[arg-type]  # Tornado's hint excludes mixed str/bytes dicts
        "n",
        "v",
        clock=clock,
        key_version=1,
    )
    assert ours == theirs
    assert signing.get_signature_key_version(ours) == 1
    assert tornado_web.get_signature_key_version(ours) == 1
    assert signing.decode_signed_value(keys, "n", ours, clock=clock) == b"v"
    assert tornado_web.decode_signed_value(keys, "n", ours, clock=clock) == b"v"  # type: ignore[arg-type]
    # A plain secret equal to the right key also verifies (Tornado ignores the key version).
    assert signing.decode_signed_value("new", "n", ours, clock=clock) == b"v"
    # Unknown key version, or the wrong key under that version.
    assert signing.decode_signed_value({0: "old"}, "n", ours, clock=clock) is None
    assert signing.decode_signed_value({1: "old"}, "n", ours, clock=clock) is None
    # No key version written means 0.
    plain = signing.create_signed_value("old", "n", "v", clock=clock)
    assert signing.get_signature_key_version(plain) == 0
    assert signing.decode_signed_value(keys, "n", plain, clock=clock) == b"v"


def test_key_version_of_v1_and_garbage_is_none() -> None:
    v1 = signing.create_signed_value("k", "n", "v", version=1, clock=clock)
    garbage: list[str | bytes] = [v1, b"", "2|", "2|x:0|", "2|1:0", "\udcff", b"3|1:7|"]
    for value in garbage:
        assert signing.get_signature_key_version(value) is None


def test_create_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported version"):
        signing.create_signed_value("k", "n", "v", version=3)
    with pytest.raises(ValueError, match="version 1"):
        signing.create_signed_value({0: "k"}, "n", "v", version=1, key_version=0)
    with pytest.raises(ValueError, match="key_version"):
        signing.create_signed_value({0: "k"}, "n", "v")
    with pytest.raises(KeyError):
        signing.create_signed_value({0: "k"}, "n", "v", key_version=5)


@pytest.mark.parametrize("version", [1, 2])
def test_expiry(version: int) -> None:
    signed = signing.create_signed_value("k", "n", "v", version=version, clock=clock)
    assert signing.decode_signed_value("k", "n", signed, clock=later(30.9)) == b"v"
    assert signing.decode_signed_value("k", "n", signed, clock=later(31.1)) is None
    assert signing.decode_signed_value("k", "n", signed, max_age_days=1, clock=later(2)) is None
    assert signing.decode_signed_value("k", "n", signed, max_age_days=3, clock=later(2)) == b"v"
    for days in (0.5, 2, 31.1):  # the same decisions as Tornado
        ours = signing.decode_signed_value("k", "n", signed, max_age_days=1, clock=later(days))
        theirs = tornado_web.decode_signed_value(
            "k", "n", signed, max_age_days=1, clock=later(days)
        )
        assert ours == theirs


def test_v1_timestamp_in_future_is_rejected() -> None:
    signed = signing.create_signed_value("k", "n", "v", version=1, clock=later(40))
    assert signing.decode_signed_value("k", "n", signed, clock=clock) is None
    assert tornado_web.decode_signed_value("k", "n", signed, clock=clock) is None


def test_v1_digit_shift_is_rejected() -> None:
    # v1 signs base64 + timestamp without a delimiter: a trailing digit of the payload moved
    # into the timestamp keeps the signature valid. The result is zero-padded or far in the
    # future, and both are refused (as Tornado 6.6.1 does).
    for value, digit in (("ab4", b"0"), ("xy9", b"5")):
        signed = signing.create_signed_value("k", "n", value, version=1, clock=clock)
        encoded, timestamp, signature = signed.split(b"|")
        assert encoded.endswith(digit)
        shifted = b"|".join([encoded[:-1], digit + timestamp, signature])
        assert signing.decode_signed_value("k", "n", shifted, clock=clock) is None
        assert tornado_web.decode_signed_value("k", "n", shifted, clock=clock) is None


@pytest.mark.parametrize("version", [1, 2])
def test_wrong_name_or_secret(version: int) -> None:
    signed = signing.create_signed_value("k", "n", "v", version=version, clock=clock)
    assert signing.decode_signed_value("k", "other", signed, clock=clock) is None
    assert signing.decode_signed_value("other", "n", signed, clock=clock) is None


@pytest.mark.parametrize("version", [1, 2])
def test_every_single_byte_change_is_rejected(version: int) -> None:
    signed = signing.create_signed_value("k", "n", "value", version=version, clock=clock)
    for index in range(len(signed)):
        for replacement in (b"0", b"|", b"x"):
            if signed[index : index + 1] == replacement:
                continue
            tampered = signed[:index] + replacement + signed[index + 1 :]
            assert signing.decode_signed_value("k", "n", tampered, clock=clock) is None
            assert tornado_web.decode_signed_value("k", "n", tampered, clock=clock) is None
    for cut in range(len(signed)):
        assert signing.decode_signed_value("k", "n", signed[:cut], clock=clock) is None


def test_non_ascii_name() -> None:
    # Tornado 6.6.1 counts characters for the name's length prefix and then cannot decode its
    # own value; ours counts bytes, which both decoders accept.
    ours = signing.create_signed_value("k", "n\u00e4me", "v", clock=clock)
    assert signing.decode_signed_value("k", "n\u00e4me", ours, clock=clock) == b"v"
    assert tornado_web.decode_signed_value("k", "n\u00e4me", ours, clock=clock) == b"v"


def test_min_version() -> None:
    v1 = signing.create_signed_value("k", "n", "v", version=1, clock=clock)
    v2 = signing.create_signed_value("k", "n", "v", version=2, clock=clock)
    assert signing.decode_signed_value("k", "n", v1, clock=clock, min_version=1) == b"v"
    assert signing.decode_signed_value("k", "n", v1, clock=clock, min_version=2) is None
    assert signing.decode_signed_value("k", "n", v2, clock=clock, min_version=2) == b"v"
    with pytest.raises(ValueError, match="min_version"):
        signing.decode_signed_value("k", "n", v2, min_version=3)


GARBAGE: list[str | bytes | None] = [
    None,
    "",
    b"",
    "|",
    "||",
    "a|b|c",
    "2|",
    "2|1:0",
    "2|1:0|",
    "2|x:0|10:1700000000|1:n|4:dg==|sig",
    "2|-1:0|10:1700000000|1:n|4:dg==|sig",
    "2|99:0|",
    "2|" + "9" * 5000 + ":0|",
    "2|1:x|10:1700000000|1:n|4:dg==|" + "0" * 64,
    "3|1:0|10:1700000000|1:n|4:dg==|" + "0" * 64,
    "999|x",
    "1000|x|y",
    "dg==|" + "9" * 5000 + "|" + "0" * 40,
    "\udcff\udcfe",
    "2|\udcff",
    b"\xff\xfe\x00|\x80|\x81",
]


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize("secret", ["k", {0: "k"}])
def test_garbage_gives_none(value: str | bytes | None, secret: signing.SecretType) -> None:
    assert signing.decode_signed_value(secret, "n", value, clock=clock) is None


def test_v1_value_with_key_dict_gives_none() -> None:
    v1 = signing.create_signed_value("k", "n", "v", version=1, clock=clock)
    assert signing.decode_signed_value({0: "k"}, "n", v1, clock=clock) is None


def test_rejected_v1_values_are_logged_like_tornado(caplog: pytest.LogCaptureFixture) -> None:
    v1 = signing.create_signed_value("k", "n", "v", version=1, clock=clock)
    with caplog.at_level("WARNING", logger="tornado.general"):
        assert signing.decode_signed_value("wrong", "n", v1, clock=clock) is None
    assert [r.name for r in caplog.records] == ["tornado.general"]
    assert caplog.records[0].getMessage().startswith("Invalid cookie signature")


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_random_input_never_raises(value: str | bytes) -> None:
    for secret in ("k", {0: "k", 1: "j"}):
        assert signing.decode_signed_value(secret, "n", value, clock=clock) is None
    key_version = signing.get_signature_key_version(value)
    assert key_version is None or isinstance(key_version, int)


@settings(max_examples=200, deadline=None, database=None)
@given(
    value=st.one_of(st.binary(max_size=100), st.text(max_size=100)),
    name=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    version=st.sampled_from([1, 2]),
    timestamp=st.integers(min_value=1, max_value=4_000_000_000),
)
def test_random_values_match_tornado(
    value: str | bytes, name: str, version: int, timestamp: int
) -> None:
    expected = value.encode() if isinstance(value, str) else value
    ours = signing.create_signed_value("k", name, value, version=version, clock=lambda: timestamp)
    theirs = tornado_web.create_signed_value(
        "k", name, value, version=version, clock=lambda: timestamp
    )
    assert ours == theirs
    assert signing.decode_signed_value("k", name, ours, clock=lambda: timestamp) == expected
