"""Categories 12 and 13: permessage-deflate (RFC 7692).

12: compressed messages of many sizes and shapes on the default agreement (context takeover,
15-bit windows), the examples of RFC 7692 section 7.2.3, fragmented compressed messages, and the
RSV1 rules of section 6. 13: every negotiable parameter (section 7.1), checked in the response
and in the compressed data the server sends; offers the server must decline (101 without the
extension, never an error status).
"""

from __future__ import annotations

import functools
import os
import random
import zlib

import pytest

from conformance.conftest import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    Deflater,
    Inflater,
    LiveServer,
    RawWebSocket,
    close_payload,
    encode_frame,
    expect_close,
)

pytestmark = pytest.mark.asyncio

PARAMETERS = {
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
}


def parse_extensions(value: str) -> list[tuple[str, dict[str, str | None]]]:
    """RFC 6455 section 9.1 grammar, enough for these tests (values may be quoted)."""
    result = []
    for element in value.split(","):
        name, *params = (part.strip() for part in element.split(";"))
        parsed: dict[str, str | None] = {}
        for param in params:
            key, sep, raw = param.partition("=")
            text = raw.strip().strip('"') if sep else None
            assert key.strip() not in parsed, f"duplicate parameter in {value!r}"
            parsed[key.strip()] = text
        result.append((name, parsed))
    return result


def window_bits(value: str | None) -> int:
    assert value is not None and value.isdigit() and value[0] != "0", value
    bits = int(value)
    assert 8 <= bits <= 15, f"RFC 7692 7.1.2: window bits {bits} out of 8..15"
    return bits


class Session:
    """An open permessage-deflate connection with the agreement the server answered."""

    def __init__(self, ws: RawWebSocket, params: dict[str, str | None]) -> None:
        self.ws = ws
        self.params = params
        client_bits = params.get("client_max_window_bits")
        self.deflater = Deflater(
            wbits=window_bits(client_bits) if client_bits is not None else 15,
            no_context_takeover="client_no_context_takeover" in params,
        )
        server_bits = params.get("server_max_window_bits")
        self.inflater = Inflater(
            wbits=window_bits(server_bits) if server_bits is not None else 15,
            no_context_takeover="server_no_context_takeover" in params,
        )

    async def send(self, opcode: int, payload: bytes, fragment: int | None = None) -> None:
        data = self.deflater.compress(payload)
        if fragment is None:
            await self.ws.send_frame(opcode, data, rsv=RSV1)
            return
        pieces = [data[i : i + fragment] for i in range(0, len(data), fragment)] or [b""]
        last = len(pieces) - 1
        await self.ws.send(
            b"".join(
                encode_frame(
                    opcode if i == 0 else OP_CONTINUATION,
                    piece,
                    fin=i == last,
                    rsv=RSV1 if i == 0 else 0,
                )
                for i, piece in enumerate(pieces)
            )
        )

    async def expect(self, opcode: int, payload: bytes) -> None:
        await self.ws.expect_message(opcode, payload, inflater=self.inflater)


def agreement(ws: RawWebSocket, offers: str) -> dict[str, str | None] | None:
    """Check the 101's Sec-WebSocket-Extensions against the offer (RFC 7692 section 7.1) and
    return the accepted parameters, or None when the server declined."""
    ws.check_accepted()
    assert ws.response is not None
    header = ws.response.header("Sec-WebSocket-Extensions")
    if header is None:
        return None
    accepted = parse_extensions(header)
    assert len(accepted) == 1, f"RFC 6455 9.1: one answer per extension, got {header!r}"
    name, params = accepted[0]
    assert name == "permessage-deflate", f"answered an extension nobody offered: {header!r}"
    assert set(params) <= PARAMETERS, f"unknown parameter in {header!r}"
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        assert params.get(flag) is None, f"{flag} takes no value: {header!r}"
    # The answer must accept one of the offers as section 7.1 describes.
    problems = []
    for offered_name, offered in parse_extensions(offers):
        if offered_name != "permessage-deflate":
            continue
        problem = _answer_problem(offered, params)
        if problem is None:
            return params
        problems.append(problem)
    raise AssertionError(f"{header!r} answers none of the offers {offers!r}: {problems}")


def _answer_problem(offer: dict[str, str | None], answer: dict[str, str | None]) -> str | None:
    if "server_no_context_takeover" in offer and "server_no_context_takeover" not in answer:
        return "7.1.1.1: server_no_context_takeover offered but not in the answer"
    if "server_max_window_bits" in answer:
        bits = window_bits(answer["server_max_window_bits"])
        if "server_max_window_bits" in offer and bits > int(offer["server_max_window_bits"] or 0):
            return "7.1.2.1: server_max_window_bits larger than offered"
    elif "server_max_window_bits" in offer:
        return "7.1.2.1: server_max_window_bits offered but not in the answer"
    if "client_max_window_bits" in answer:
        if "client_max_window_bits" not in offer:
            return "7.1.2.2: client_max_window_bits answered but not offered"
        bits = window_bits(answer["client_max_window_bits"])
        offered = offer["client_max_window_bits"]
        if offered is not None and bits > int(offered):
            return "7.1.2.2: client_max_window_bits larger than offered"
    return None


async def open_deflate(server: LiveServer, offer: str) -> Session:
    ws = await server.open("/deflate", extensions=offer)
    params = agreement(ws, offer)
    assert params is not None, f"the server declined a valid offer {offer!r}"
    return Session(ws, params)


@functools.cache
def _word_salad() -> bytes:
    rng = random.Random(6455)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "κόσμε", "✓", "websocket", "frame"]
    return " ".join(rng.choices(words, k=400_000)).encode()


def compressible_text(size: int, seed: int) -> bytes:
    """Valid UTF-8 text of about ``size`` bytes (a code point cut at the ends is dropped)."""
    salad = _word_salad()
    start = (seed * 7919) % (len(salad) - size) if size < len(salad) else 0
    return salad[start : start + size].decode("utf-8", "ignore").encode()


# ---- 12: payloads ----

SIZES = [0, 1, 16, 64, 125, 126, 256, 1024, 4096, 16384, 65535, 65536, 131072, 1 << 20]


@pytest.mark.parametrize(
    "size", [pytest.param(n, id=f"12.1.{i}-{n}B") for i, n in enumerate(SIZES, 1)]
)
async def test_12_1_compressed_text_sizes(server: LiveServer, size: int) -> None:
    """Autobahn 12.1: compressible text of each size, ten messages on one connection (so
    later messages refer back into earlier ones through the shared window)."""
    session = await open_deflate(server, "permessage-deflate")
    for i in range(10):
        payload = compressible_text(size, seed=size + i // 2)
        await session.send(OP_TEXT, payload)
        await session.expect(OP_TEXT, payload)
    await session.ws.close_cleanly()


@pytest.mark.parametrize(
    "size", [pytest.param(n, id=f"12.2.{i}-{n}B") for i, n in enumerate(SIZES, 1)]
)
async def test_12_2_compressed_binary_sizes(server: LiveServer, size: int) -> None:
    """Autobahn 12.2-12.5: incompressible and compressible binary, alternating."""
    session = await open_deflate(server, "permessage-deflate")
    for i in range(6):
        payload = os.urandom(size) if i % 2 else bytes(size)
        await session.send(OP_BINARY, payload)
        await session.expect(OP_BINARY, payload)
    await session.ws.close_cleanly()


@pytest.mark.parametrize(
    "frames",
    [
        # 7.2.3.1: "Hello" in one compressed DEFLATE block.
        pytest.param([(0xC1, "f248cdc9c90700")], id="12.3.1-rfc7692-7.2.3.1-one-block"),
        # 7.2.3.1: the same message split into two fragments.
        pytest.param([(0x41, "f248cd"), (0x80, "c9c90700")], id="12.3.2-rfc7692-7.2.3.1-frags"),
        # 7.2.3.3: a DEFLATE block with no compression.
        pytest.param([(0xC1, "000500faff48656c6c6f00")], id="12.3.3-rfc7692-7.2.3.3-stored"),
        # 7.2.3.4: a DEFLATE block with BFINAL set to 1.
        pytest.param([(0xC1, "f348cdc9c9070000")], id="12.3.4-rfc7692-7.2.3.4-bfinal"),
        # 7.2.3.5: two DEFLATE blocks in one message.
        pytest.param(
            [(0xC1, "f24805000000ffffcac9c90700")], id="12.3.5-rfc7692-7.2.3.5-two-blocks"
        ),
    ],
)
async def test_12_3_rfc7692_examples(server: LiveServer, frames: list[tuple[int, str]]) -> None:
    """The payloads of RFC 7692 section 7.2.3, masked as a client sends them; each is
    "Hello"."""
    session = await open_deflate(server, "permessage-deflate")
    for first, payload in frames:
        await session.ws.send_frame(
            first & 0x0F, bytes.fromhex(payload), fin=bool(first & 0x80), rsv=first & 0x70
        )
    await session.expect(OP_TEXT, b"Hello")
    await session.ws.close_cleanly()


async def test_12_3_6_rfc7692_shared_window(server: LiveServer) -> None:
    """RFC 7692 section 7.2.3.2: the second "Hello" is a back reference into the first."""
    session = await open_deflate(server, "permessage-deflate")
    await session.ws.send_frame(OP_TEXT, bytes.fromhex("f248cdc9c90700"), rsv=RSV1)
    await session.expect(OP_TEXT, b"Hello")
    await session.ws.send_frame(OP_TEXT, bytes.fromhex("f200110000"), rsv=RSV1)
    await session.expect(OP_TEXT, b"Hello")
    await session.ws.close_cleanly()


@pytest.mark.parametrize(
    ("size", "fragment"),
    [
        pytest.param(1000, 1, id="12.4.1-1000B-in-1B-fragments"),
        pytest.param(65536, 100, id="12.4.2-64KiB-in-100B-fragments"),
        pytest.param(1 << 20, 4096, id="12.4.3-1MiB-in-4KiB-fragments"),
        pytest.param(300, 1000, id="12.4.4-one-fragment-larger-than-message"),
    ],
)
async def test_12_4_compressed_fragmented_message(
    server: LiveServer, size: int, fragment: int
) -> None:
    """Section 6.1: the compressed payload is split across frames; RSV1 only on the first."""
    session = await open_deflate(server, "permessage-deflate")
    for seed in range(3):
        payload = compressible_text(size, seed)
        await session.send(OP_TEXT, payload, fragment=fragment)
        await session.expect(OP_TEXT, payload)
    await session.ws.close_cleanly()


async def test_12_4_5_control_frames_between_compressed_fragments(server: LiveServer) -> None:
    """Pings between compressed fragments are answered and leave the message intact."""
    session = await open_deflate(server, "permessage-deflate")
    payload = compressible_text(5000, 7)
    data = session.deflater.compress(payload)
    third = len(data) // 3
    await session.ws.send(
        encode_frame(OP_TEXT, data[:third], fin=False, rsv=RSV1)
        + encode_frame(OP_PING, b"one")
        + encode_frame(OP_CONTINUATION, data[third : 2 * third], fin=False)
        + encode_frame(OP_PONG, b"unsolicited")
        + encode_frame(OP_PING, b"two")
        + encode_frame(OP_CONTINUATION, data[2 * third :])
    )
    for expected in (b"one", b"two"):
        frame = await session.ws.read_frame()
        assert frame.opcode == OP_PONG and frame.payload == expected, frame
        assert frame.rsv == 0, f"RFC 7692 6: no RSV1 on control frames: {frame}"
    await session.expect(OP_TEXT, payload)
    await session.ws.close_cleanly()


async def test_12_5_uncompressed_messages_on_a_deflate_connection(server: LiveServer) -> None:
    """Section 6: a message without RSV1 is not compressed and is taken as it is, even when
    mixed with compressed ones."""
    session = await open_deflate(server, "permessage-deflate")
    for i in range(6):
        payload = compressible_text(2000, i)
        if i % 2:
            await session.ws.send_frame(OP_TEXT, payload)
        else:
            await session.send(OP_TEXT, payload)
        await session.expect(OP_TEXT, payload)
    await session.ws.send(
        encode_frame(OP_BINARY, b"plain ", fin=False) + encode_frame(OP_CONTINUATION, b"frags")
    )
    await session.expect(OP_BINARY, b"plain frags")
    await session.ws.close_cleanly()


async def test_12_5_2_empty_compressed_message(server: LiveServer) -> None:
    """An empty message compresses to the single byte 0x00 (an empty stored block without its
    tail); an empty payload with RSV1 set must also decompress to nothing."""
    session = await open_deflate(server, "permessage-deflate")
    await session.ws.send_frame(OP_TEXT, b"\x00", rsv=RSV1)
    await session.expect(OP_TEXT, b"")
    await session.ws.send_frame(OP_BINARY, b"", rsv=RSV1)
    await session.expect(OP_BINARY, b"")
    await session.ws.close_cleanly()


# ---- 12.6: RSV rules with deflate (RFC 7692 section 6, RFC 6455 section 5.2) ----


@pytest.mark.parametrize(
    ("opcode", "payload"),
    [
        pytest.param(OP_PING, b"ping", id="12.6.1-ping"),
        pytest.param(OP_PONG, b"pong", id="12.6.2-pong"),
        pytest.param(OP_CLOSE, close_payload(1000), id="12.6.3-close"),
        pytest.param(OP_PING, b"", id="12.6.4-empty-ping"),
    ],
)
async def test_12_6_rsv1_on_control_frame_fails(
    server: LiveServer, opcode: int, payload: bytes
) -> None:
    """RFC 7692 section 6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
    control frames and non-first fragments of a data message. An endpoint receiving such a
    frame MUST _Fail the WebSocket Connection_." Protocol error: 1002."""
    session = await open_deflate(server, "permessage-deflate")
    await session.ws.send_frame(opcode, payload, rsv=RSV1)
    await expect_close(session.ws, 1002)
    await server.assert_serving()


async def test_12_6_4_2_rsv1_on_ping_after_byte_by_byte_message(server: LiveServer) -> None:
    """A compressed message written one byte per write, then a ping with RSV1."""
    session = await open_deflate(server, "permessage-deflate")
    data = session.deflater.compress(b"Hello")
    await session.ws.send(encode_frame(OP_TEXT, data, rsv=RSV1), chunk=1)
    await session.ws.send(encode_frame(OP_PING, b"bad", rsv=RSV1))
    await session.expect(OP_TEXT, b"Hello")
    await expect_close(session.ws, 1002)
    await server.assert_serving()


async def test_12_6_5_rsv1_on_control_frame_between_fragments(server: LiveServer) -> None:
    session = await open_deflate(server, "permessage-deflate")
    data = session.deflater.compress(b"Hello, compressed fragments")
    await session.ws.send(
        encode_frame(OP_TEXT, data[:5], fin=False, rsv=RSV1)
        + encode_frame(OP_PING, b"bad", rsv=RSV1)
    )
    await expect_close(session.ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    "first_compressed",
    [pytest.param(True, id="12.6.6-compressed-message"), pytest.param(False, id="12.6.7-plain")],
)
async def test_12_6_rsv1_on_continuation_fails(server: LiveServer, first_compressed: bool) -> None:
    """RSV1 on a non-first fragment, whether or not the message is compressed."""
    session = await open_deflate(server, "permessage-deflate")
    data = session.deflater.compress(b"Hello, compressed fragments")
    first = data[:5] if first_compressed else b"Hello"
    await session.ws.send(
        encode_frame(OP_TEXT, first, fin=False, rsv=RSV1 if first_compressed else 0)
        + encode_frame(OP_CONTINUATION, data[5:], rsv=RSV1)
    )
    await expect_close(session.ws, 1002)
    await server.assert_serving()


@pytest.mark.parametrize(
    "rsv",
    [
        pytest.param(RSV2, id="12.6.8-rsv2"),
        pytest.param(RSV3, id="12.6.9-rsv3"),
        pytest.param(RSV1 | RSV2, id="12.6.10-rsv1-rsv2"),
        pytest.param(RSV1 | RSV3, id="12.6.11-rsv1-rsv3"),
    ],
)
async def test_12_6_rsv2_rsv3_fail_with_deflate(server: LiveServer, rsv: int) -> None:
    """permessage-deflate gives RSV2 and RSV3 no meaning (RFC 6455 section 5.2)."""
    session = await open_deflate(server, "permessage-deflate")
    await session.ws.send_frame(OP_TEXT, session.deflater.compress(b"Hello"), rsv=rsv)
    await expect_close(session.ws, 1002)
    await server.assert_serving()


async def test_12_6_12_compressed_invalid_utf8(server: LiveServer) -> None:
    """RFC 7692 section 6.2 then RFC 6455 section 8.1: the decompressed text must be UTF-8."""
    session = await open_deflate(server, "permessage-deflate")
    await session.send(OP_TEXT, "κόσμε".encode() + b"\xed\xa0\x80edited")
    await expect_close(session.ws, 1007)
    await server.assert_serving()


# ---- 13: negotiated parameters ----

OFFERS = [
    ("13.1", "permessage-deflate"),
    ("13.2", "permessage-deflate; client_no_context_takeover"),
    ("13.3", "permessage-deflate; server_no_context_takeover"),
    ("13.4", "permessage-deflate; client_no_context_takeover; server_no_context_takeover"),
    ("13.5", "permessage-deflate; server_max_window_bits=9"),
    ("13.6", "permessage-deflate; server_max_window_bits=12"),
    ("13.7", "permessage-deflate; server_max_window_bits=15"),
    ("13.8", "permessage-deflate; client_max_window_bits"),
    ("13.9", "permessage-deflate; client_max_window_bits=9"),
    ("13.10", "permessage-deflate; client_max_window_bits=15"),
    ("13.11", 'permessage-deflate; server_max_window_bits="10"'),
    (
        "13.12",
        "permessage-deflate; client_max_window_bits=9; server_max_window_bits=9; "
        "client_no_context_takeover; server_no_context_takeover",
    ),
    ("13.13", "permessage-deflate; server_max_window_bits=7, permessage-deflate"),
    ("13.14", "x-unknown-extension; a=1, permessage-deflate; server_no_context_takeover"),
    ("13.15", "permessage-deflate; foo=1, permessage-deflate; client_max_window_bits"),
]


def offer_id(number: str, offer: str) -> str:
    """A test id without spaces: ``13.5-pmd;server_max_window_bits=9``."""
    short = offer.replace("permessage-deflate", "pmd").replace(" ", "").replace('"', "'")
    return f"{number}-{short}"


def _offers() -> list[object]:
    return [pytest.param(offer, id=offer_id(n, offer)) for n, offer in OFFERS]


@pytest.mark.parametrize("offer", _offers())
async def test_13_parameters_negotiated_and_honoured(server: LiveServer, offer: str) -> None:
    """The answer is valid for the offer, and the server's messages obey it: with
    server_no_context_takeover each one inflates with a fresh inflater; with
    server_max_window_bits=N each inflates with an N-bit window, although every message
    repeats a random 600-byte block more than 512 bytes apart (and repeats earlier messages).
    """
    session = await open_deflate(server, offer)
    block = os.urandom(600)
    for size in (16, 1024, 65536):
        for i in range(3):
            payload = block + compressible_text(size, seed=size + i) + block
            await session.send(OP_BINARY, payload)
            await session.expect(OP_BINARY, payload)
    await session.ws.close_cleanly()


async def test_13_17_server_no_context_takeover_verified(server: LiveServer) -> None:
    """With server_no_context_takeover the same message compresses the same way every time
    (no back reference into an earlier message), so each inflates with a fresh inflater."""
    session = await open_deflate(server, "permessage-deflate; server_no_context_takeover")
    assert "server_no_context_takeover" in session.params
    payload = compressible_text(3000, 1)
    frames = []
    for _ in range(3):
        await session.send(OP_TEXT, payload)
        frame = await session.ws.read_frame()
        assert frame.rsv in (0, RSV1), frame
        frames.append(frame)
    for frame in frames:
        data = frame.payload
        if frame.rsv & RSV1:
            data = zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")
        assert data == payload
    await session.ws.close_cleanly()


async def test_13_18_client_no_context_takeover_from_the_client(server: LiveServer) -> None:
    """A client that resets its compressor per message (client_no_context_takeover) and one
    that uses a 9-bit window are understood either way."""
    session = await open_deflate(
        server, "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"
    )
    for i in range(5):
        payload = compressible_text(4000, i % 2)
        await session.send(OP_TEXT, payload)
        await session.expect(OP_TEXT, payload)
    await session.ws.close_cleanly()


INVALID_OFFERS = [
    ("13.19.1", "permessage-deflate; foo=bar"),
    ("13.19.2", "permessage-deflate; server_max_window_bits"),
    ("13.19.3", "permessage-deflate; server_max_window_bits=7"),
    ("13.19.4", "permessage-deflate; server_max_window_bits=16"),
    ("13.19.5", "permessage-deflate; server_max_window_bits=0"),
    ("13.19.6", "permessage-deflate; server_max_window_bits=abc"),
    ("13.19.7", "permessage-deflate; server_max_window_bits=010"),
    ("13.19.8", "permessage-deflate; client_max_window_bits=7"),
    ("13.19.9", "permessage-deflate; client_max_window_bits=16"),
    ("13.19.10", "permessage-deflate; client_max_window_bits=x"),
    ("13.19.11", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
    ("13.19.12", "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11"),
    ("13.19.13", "permessage-deflate; server_no_context_takeover=1"),
    ("13.19.14", "permessage-deflate; client_no_context_takeover=true"),
    ("13.19.15", "permessage-deflate; server_max_window_bits=-1"),
    ("13.19.16", "permessage-deflate; server_max_window_bits=99999999999999999999"),
    ("13.19.17", "permessage-deflate; x-unknown, permessage-deflate; server_max_window_bits=5"),
]


@pytest.mark.parametrize(
    "offer", [pytest.param(offer, id=offer_id(n, offer)) for n, offer in INVALID_OFFERS]
)
async def test_13_19_invalid_offer_declined(server: LiveServer, offer: str) -> None:
    """RFC 7692 section 7.1: "A server MUST decline an extension negotiation offer for this
    extension if any of the following conditions are met: the negotiation offer contains an
    extension parameter not defined for use in an offer; ... an extension parameter with an
    invalid value; ... multiple extension parameters with the same name". Declining means
    answering 101 without the extension (RFC 6455 section 9.1), not an error status."""
    ws = await server.connect("/deflate", extensions=offer)
    assert ws.response is not None
    assert ws.response.status == 101, f"{ws.response.status} for an offer to decline"
    ws.check_accepted()
    assert ws.response.header("Sec-WebSocket-Extensions") is None, ws.response.headers
    await ws.send_text("uncompressed")
    await ws.expect_message(OP_TEXT, "uncompressed")
    await ws.send_frame(OP_TEXT, b"x", rsv=RSV1)  # RSV1 has no meaning now (RFC 6455 5.2)
    await expect_close(ws, 1002)
    await server.assert_serving()


async def test_13_20_deflate_not_enabled(server: LiveServer) -> None:
    """A handler without compression options never answers the offer."""
    ws = await server.open("/echo", extensions="permessage-deflate; client_max_window_bits")
    assert ws.response is not None
    assert ws.response.header("Sec-WebSocket-Extensions") is None, ws.response.headers
    await ws.send_text("plain")
    await ws.expect_message(OP_TEXT, "plain")
    await ws.close_cleanly()
