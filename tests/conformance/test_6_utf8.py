"""Category 6: UTF-8 in text messages (RFC 6455 sections 5.6 and 8.1, RFC 3629).

Section 5.6: a text message's payload is UTF-8; "a particular text frame might include a
partial UTF-8 sequence; however, the whole message MUST contain valid UTF-8". Section 8.1:
"When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not,
in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_", and 7.4.1
gives the code: 1007. RFC 3629 section 3: overlong forms, surrogates (U+D800-U+DFFF) and code
points above U+10FFFF are not valid UTF-8.

The sequences follow Markus Kuhn's UTF-8 decoder stress test, as Autobahn's category 6 does.
"""

from __future__ import annotations

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_CONTINUATION,
    OP_TEXT,
    LiveServer,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio

KOSME = "κόσμε".encode()

VALID = {
    "6.1.1-empty": b"",
    "6.2.1-latin": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "6.2.2-greek-kosme": KOSME,
    "6.3.1-first-1-byte-U+0000": b"\x00",
    "6.3.2-first-2-byte-U+0080": b"\xc2\x80",
    "6.3.3-first-3-byte-U+0800": b"\xe0\xa0\x80",
    "6.3.4-first-4-byte-U+10000": b"\xf0\x90\x80\x80",
    "6.4.1-last-1-byte-U+007F": b"\x7f",
    "6.4.2-last-2-byte-U+07FF": b"\xdf\xbf",
    "6.4.3-last-3-byte-U+FFFF": b"\xef\xbf\xbf",
    "6.4.4-last-code-point-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "6.5.1-U+D7FF-before-surrogates": b"\xed\x9f\xbf",
    "6.5.2-U+E000-after-surrogates": b"\xee\x80\x80",
    "6.5.3-U+FFFD": b"\xef\xbf\xbd",
    "6.5.4-noncharacter-U+FFFE": b"\xef\xbf\xbe",
    "6.5.5-noncharacter-U+FDD0": b"\xef\xb7\x90",
    "6.5.6-noncharacter-U+1FFFE": b"\xf0\x9f\xbf\xbe",
    "6.5.7-noncharacter-U+10FFFE": b"\xf4\x8f\xbf\xbe",
    "6.5.8-mixed-scripts-and-emoji": "Ünïcödé ✓ 漢字 𝄞 😀".encode(),
}

INVALID = {
    # Unexpected continuation bytes.
    "6.6.1-continuation-80": b"\x80",
    "6.6.2-continuation-bf": b"\xbf",
    "6.6.3-continuations-80bf": b"\x80\xbf",
    "6.6.4-continuations-80bf80bf": b"\x80\xbf\x80\xbf",
    "6.6.5-all-64-continuations": bytes(range(0x80, 0xC0)),
    # Lonely start bytes, each followed by a space.
    "6.7.1-lonely-c0": b"\xc0 ",
    "6.7.2-lonely-df": b"\xdf ",
    "6.7.3-lonely-e0": b"\xe0 ",
    "6.7.4-lonely-ef": b"\xef ",
    "6.7.5-lonely-f0": b"\xf0 ",
    "6.7.6-lonely-f7": b"\xf7 ",
    "6.7.7-lonely-f8": b"\xf8 ",
    "6.7.8-lonely-fc": b"\xfc ",
    # Sequences with the last continuation byte missing (and at the end of the message).
    "6.8.1-truncated-2-byte": b"\xc2",
    "6.8.2-truncated-3-byte": b"\xe0\xa0",
    "6.8.3-truncated-4-byte": b"\xf0\x90\x80",
    "6.8.4-truncated-euro-sign": b"\xe2\x82",
    "6.8.5-truncated-after-text": KOSME + b"\xf4\x8f\xbf",
    "6.8.6-concatenated-truncations": b"\xc2\xe0\xa0\xf0\x90\x80\xdf\xef\xbf\xf4\x8f\xbf",
    # Bytes that never appear in UTF-8.
    "6.9.1-byte-fe": b"\xfe",
    "6.9.2-byte-ff": b"\xff",
    "6.9.3-bytes-fefeffff": b"\xfe\xfe\xff\xff",
    "6.9.4-byte-c1": b"\xc1\x81",
    "6.9.5-byte-f5": b"\xf5\x80\x80\x80",
    # Overlong encodings of "/" (U+002F).
    "6.10.1-overlong-2-byte-slash": b"\xc0\xaf",
    "6.10.2-overlong-3-byte-slash": b"\xe0\x80\xaf",
    "6.10.3-overlong-4-byte-slash": b"\xf0\x80\x80\xaf",
    "6.10.4-overlong-5-byte-slash": b"\xf8\x80\x80\x80\xaf",
    "6.10.5-overlong-6-byte-slash": b"\xfc\x80\x80\x80\x80\xaf",
    # Maximum overlong sequences.
    "6.11.1-max-overlong-2-byte": b"\xc1\xbf",
    "6.11.2-max-overlong-3-byte": b"\xe0\x9f\xbf",
    "6.11.3-max-overlong-4-byte": b"\xf0\x8f\xbf\xbf",
    # Overlong encodings of NUL.
    "6.12.1-overlong-nul-2-byte": b"\xc0\x80",
    "6.12.2-overlong-nul-3-byte": b"\xe0\x80\x80",
    "6.12.3-overlong-nul-4-byte": b"\xf0\x80\x80\x80",
    # UTF-16 surrogates, single and paired (CESU-8).
    "6.13.1-surrogate-U+D800": b"\xed\xa0\x80",
    "6.13.2-surrogate-U+DB7F": b"\xed\xad\xbf",
    "6.13.3-surrogate-U+DB80": b"\xed\xae\x80",
    "6.13.4-surrogate-U+DBFF": b"\xed\xaf\xbf",
    "6.13.5-surrogate-U+DC00": b"\xed\xb0\x80",
    "6.13.6-surrogate-U+DF80": b"\xed\xbe\x80",
    "6.13.7-surrogate-U+DFFF": b"\xed\xbf\xbf",
    "6.14.1-surrogate-pair-D800-DC00": b"\xed\xa0\x80\xed\xb0\x80",
    "6.14.2-surrogate-pair-DBFF-DFFF": b"\xed\xaf\xbf\xed\xbf\xbf",
    # Above U+10FFFF.
    "6.15.1-U+110000": b"\xf4\x90\x80\x80",
    "6.15.2-U+13FFFF": b"\xf4\xbf\xbf\xbf",
    "6.15.3-U+1FFFFF": b"\xf7\xbf\xbf\xbf",
    "6.15.4-5-byte-U+200000": b"\xf8\x88\x80\x80\x80",
    "6.15.5-6-byte-U+4000000": b"\xfc\x84\x80\x80\x80\x80",
    # Invalid bytes inside otherwise valid text (Autobahn 6.3.1).
    "6.16.1-kosme-surrogate-edited": KOSME + b"\xed\xa0\x80" + b"edited",
    "6.16.2-valid-then-ff": b"valid text then \xff",
}


def _params(cases: dict[str, bytes]) -> list[object]:
    return [pytest.param(value, id=name) for name, value in cases.items()]


def per_byte_fragments(payload: bytes) -> bytes:
    """The text message with one byte per fragment (an empty message: one empty frame)."""
    if not payload:
        return encode_frame(OP_TEXT, b"")
    last = len(payload) - 1
    return b"".join(
        encode_frame(OP_TEXT if i == 0 else OP_CONTINUATION, payload[i : i + 1], fin=i == last)
        for i in range(len(payload))
    )


def split_fragments(parts: list[bytes]) -> bytes:
    last = len(parts) - 1
    return b"".join(
        encode_frame(OP_TEXT if i == 0 else OP_CONTINUATION, part, fin=i == last)
        for i, part in enumerate(parts)
    )


@pytest.mark.parametrize("payload", _params(VALID))
async def test_6_valid_utf8_one_frame(server: LiveServer, payload: bytes) -> None:
    """Valid UTF-8 (including U+0000, noncharacters and U+10FFFF) is echoed byte for byte."""
    ws = await server.open()
    await ws.send_frame(OP_TEXT, payload)
    await ws.expect_message(OP_TEXT, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize("payload", _params(VALID))
async def test_6_valid_utf8_one_byte_per_fragment(server: LiveServer, payload: bytes) -> None:
    """The same split one byte per fragment: every multi-byte code point straddles fragments."""
    ws = await server.open()
    await ws.send(per_byte_fragments(payload))
    await ws.expect_message(OP_TEXT, payload)
    await ws.close_cleanly()


@pytest.mark.parametrize("payload", _params(INVALID))
async def test_6_invalid_utf8_one_frame(server: LiveServer, payload: bytes) -> None:
    ws = await server.open()
    await ws.send_frame(OP_TEXT, payload)
    await expect_close(ws, 1007)
    await server.assert_serving()


@pytest.mark.parametrize("payload", _params(INVALID))
async def test_6_invalid_utf8_one_byte_per_fragment(server: LiveServer, payload: bytes) -> None:
    ws = await server.open()
    await ws.send(per_byte_fragments(payload))
    await expect_close(ws, 1007)
    await server.assert_serving()


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([b"\xe2", b"\x82\xac"], id="6.17.1-euro-1+2"),
        pytest.param([b"\xe2\x82", b"\xac"], id="6.17.2-euro-2+1"),
        pytest.param([b"\xf4", b"\x8f", b"\xbf", b"\xbf"], id="6.17.3-U+10FFFF-in-4"),
        pytest.param(
            [b"Hello ", b"\xce", b"\xba\xe1\xbd", b"\xb9\xcf\x83\xce\xbc\xce\xb5"],
            id="6.17.4-kosme-split-mid-character",
        ),
        pytest.param([b"\xf0\x9f", b"", b"\x98\x80"], id="6.17.5-emoji-around-empty-fragment"),
    ],
)
async def test_6_17_code_point_split_between_fragments(
    server: LiveServer, parts: list[bytes]
) -> None:
    """RFC 6455 5.6: a frame may end inside a code point; only the whole message must be
    valid UTF-8."""
    ws = await server.open()
    await ws.send(split_fragments(parts))
    await ws.expect_message(OP_TEXT, b"".join(parts))
    await ws.close_cleanly()


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([b"\xe2\x82", b"("], id="6.18.1-broken-euro"),
        pytest.param([b"\xed", b"\xa0\x80"], id="6.18.2-surrogate-split"),
        pytest.param([b"\xf4", b"\x90\x80\x80"], id="6.18.3-above-U+10FFFF-split"),
        pytest.param([b"\xc0", b"\xaf"], id="6.18.4-overlong-split"),
        pytest.param([KOSME, b"\xe2\x82"], id="6.18.5-message-ends-inside-code-point"),
        pytest.param([KOSME, b"\xed\xa0\x80", b"edited"], id="6.18.6-invalid-middle-fragment"),
        pytest.param([b"\xff", b"valid"], id="6.18.7-invalid-first-fragment"),
    ],
)
async def test_6_18_invalid_utf8_across_fragments(server: LiveServer, parts: list[bytes]) -> None:
    """Invalid UTF-8 split between fragments fails the connection with 1007, whether the
    server notices it on the bad fragment (fail fast) or on the complete message."""
    ws = await server.open()
    await ws.send(split_fragments(parts))
    await expect_close(ws, 1007)
    await server.assert_serving()


async def test_6_19_invalid_utf8_after_valid_messages(server: LiveServer) -> None:
    """Valid messages are echoed; the connection fails only at the invalid one."""
    ws = await server.open()
    await ws.send_frame(OP_TEXT, KOSME)
    await ws.expect_message(OP_TEXT, KOSME)
    await ws.send_frame(OP_TEXT, b"\xce\xba\xe1\xbd")  # truncated
    await expect_close(ws, 1007)
    await server.assert_serving()


@pytest.mark.parametrize(
    "payload", _params({"6.20.1-invalid-utf8-as-binary": b"\xff\xfe\xed\xa0"})
)
async def test_6_20_binary_messages_are_not_utf8(server: LiveServer, payload: bytes) -> None:
    """RFC 6455 5.6: binary data is arbitrary; only text messages are checked."""
    ws = await server.open()
    await ws.send_frame(OP_BINARY, payload)
    await ws.expect_message(OP_BINARY, payload)
    await ws.close_cleanly()
