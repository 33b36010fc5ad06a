"""Where tornado_ws_compat deliberately differs from Tornado 6.6.1 (decided by the issue).

Issue 3 asks for strict RFC conformance where Tornado 6.6.1 is lenient. Each test here runs
both implementations and asserts each side's documented behaviour explicitly (Tornado's, and
ours with the RFC section that requires it), so that a change on either side is noticed; the
parts of the observation the difference does not touch (hook events, log lines, messages) are
still asserted identical with ``assert_same``. Everything not listed here must be identical and
is compared by the other test modules.

The list (README "Intentional differences from Tornado"):

- Invalid UTF-8 in a text message: close 1007 before dropping TCP (RFC 6455 section 8.1).
- Malformed ``Sec-WebSocket-Key``: 400 (RFC 6455 sections 4.2.1 item 5 and 4.2.2).
- An HTTP/1.0 upgrade request: 400 (RFC 6455 section 4.2.1 item 1).
- permessage-deflate ``*_no_context_takeover`` offers are accepted by echoing them
  (RFC 7692 sections 7.1.1.1 and 7.1.1.2).
- Malformed frames: close 1002 before dropping TCP (RFC 6455 section 7.1.7).
- Reserved or unassigned close codes: close 1002 (RFC 6455 section 7.4).
- A 1-byte close payload: close 1002 (RFC 6455 section 5.5.1).
- A close reason that is not UTF-8: close 1007 (RFC 6455 section 8.1).
- An unmasked client frame: close 1002 (RFC 6455 section 5.1).
- RSV1 on a control frame after permessage-deflate was negotiated: close 1002 (RFC 7692
  section 6, RFC 6455 section 5.2).
- A compressed message that does not inflate: close 1002 and a DEBUG line, not an ERROR
  "Uncaught exception" (RFC 6455 section 7.1.7).
- permessage-deflate offers with an unknown parameter or an invalid value are declined
  (RFC 7692 sections 5 and 7.1).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from ._harness import (
    EOF,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    STILL_OPEN,
    TIMEOUT,
    Differ,
    Inflater,
    RawClient,
    Side,
    assert_same,
    deflate,
    inflates_alone,
    violation,
)

#: What the Echo handler records up to a violation sent after one "before" echo.
BEFORE = [("open", (), {}), ("on_message", "before")]
#: What both write for every accepted handshake of these tests.
ACCESS_101 = [("tornado.access", "INFO", "101 GET /echo (127.0.0.1) N.NNms")]


def _accept_value(key: str) -> str:
    """Sec-WebSocket-Accept for ``key`` (RFC 6455 section 4.2.2 item 5.4)."""
    digest = hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


# ---------------------------------------------------------------------------------------------
# Text messages.
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_invalid_utf8_text_intentional_difference(diff: Differ) -> None:
    """Invalid UTF-8 in a text message (RFC 6455 section 8.1: fail the connection, 1007).

    Tornado 6.6.1 aborts the TCP connection without a close frame; tornado_ws_compat closes
    with 1007 first. Neither delivers the message; both run on_close without a close code from
    the client, and log the same lines.
    """

    async def scenario(side: Side) -> list[Any]:
        client = await side.connected()
        client.send_frame(OP_TEXT, b"valid")
        client.send_frame(OP_TEXT, b"caf\xc3(")
        events = await client.until_eof()
        await side.rec.settle("on_close")
        return events

    results = await diff.run(scenario)
    assert results["tornado"].client == [("text", "valid"), EOF]
    assert results["ours"].client == [("text", "valid"), ("close", 1007, None), EOF]
    assert_same(results, "server", "log")
    assert results["ours"].server == [
        ("open", (), {}),
        ("on_message", "valid"),
        ("on_close", None, None),
    ]


# ---------------------------------------------------------------------------------------------
# Opening handshake.
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["7", "8"])
async def test_versions_7_and_8_rejected_by_both(diff: Differ, version: str) -> None:
    """The issue settles it: 426 with ``Sec-WebSocket-Version: 13`` (as Tornado 6.6)."""

    async def scenario(side: Side) -> dict[str, Any]:
        _, response = await side.open_ws("/echo", {"Sec-WebSocket-Version": version})
        return response.compared()

    reference = await diff.compare(scenario)
    assert reference.client["status"] == 426
    assert reference.client["headers"]["sec-websocket-version"] == ["13"]


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="], ids=["not-base64", "short"])
async def test_malformed_key_rejected_400_intentional_difference(diff: Differ, key: str) -> None:
    """A Sec-WebSocket-Key that is not the base64 of 16 bytes.

    RFC 6455 section 4.2.1 item 5 requires the key to be a base64-encoded 16-byte value, and
    section 4.2.2 lets the server answer a handshake it does not accept with 400. Ours answers
    exactly what Tornado answers for a *missing* key (400 "Missing/Invalid WebSocket headers",
    a WARNING access line and a DEBUG line on tornado.general); Tornado 6.6.1 checks only that
    the key is not empty and accepts it with the accept value computed from it.
    """

    async def scenario(side: Side) -> dict[str, Any]:
        client, response = await side.open_ws("/echo", {"Sec-WebSocket-Key": key})
        observed = response.compared()
        if response.status == 101:
            client.send_close(1000, "done")
            observed["frames"] = await client.until_eof()
            await side.rec.settle("on_close")
        return observed

    results = await diff.run(scenario, log_level=0)
    tornado, ours = results["tornado"], results["ours"]

    assert tornado.client["status"] == 101
    assert tornado.client["headers"]["sec-websocket-accept"] == [_accept_value(key)]
    assert tornado.client["frames"] == [("close", 1000, None), EOF]
    assert tornado.server == [("open", (), {}), ("on_close", 1000, "done")]
    assert tornado.log == ACCESS_101

    assert ours.client == {
        "status": 400,
        "reason": "Bad Request",
        "headers": {
            "content-length": ["33"],
            "content-type": ["text/html; charset=UTF-8"],
        },
        "body": b"Missing/Invalid WebSocket headers",
    }
    assert ours.server == []
    assert ours.log == [
        ("tornado.access", "WARNING", "400 GET /echo (127.0.0.1) N.NNms"),
        ("tornado.general", "DEBUG", "Missing/Invalid WebSocket headers"),
    ]


@pytest.mark.asyncio
async def test_http10_upgrade_rejected_400_intentional_difference(diff: Differ) -> None:
    """An upgrade request that says HTTP/1.0.

    RFC 6455 section 4.2.1 item 1: the client's opening handshake is "an HTTP/1.1 or higher GET
    request"; ours answers 400 like the handshake's other failed checks. Tornado 6.6.1 does
    not look at the version: it answers 101, runs ``open``, then closes the connection as an
    HTTP/1.0 exchange (the client sees the 101 and end of file, no close frame).
    """

    async def scenario(side: Side) -> dict[str, Any]:
        client = await side.raw()
        lines = ["GET /echo HTTP/1.0", *(f"{k}: {v}" for k, v in side.ws_headers())]
        client.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin1"))
        response = await client.read_response()
        observed = response.compared()
        if response.status == 101:
            client.send_close(1000, "done")
            observed["frames"] = await client.until_eof()
            await side.rec.settle("on_close")
        else:
            observed["after"] = await asyncio.wait_for(client.reader.read(), TIMEOUT)
        return observed

    results = await diff.run(scenario, log_level=0)
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client["status"] == 101
    assert tornado.client["frames"] == [EOF]
    assert tornado.server[0] == ("open", (), {}), tornado.server
    body = b"WebSocket upgrades need HTTP/1.1 or later"
    assert ours.client == {
        "status": 400,
        "reason": "Bad Request",
        "headers": {
            "content-length": [str(len(body))],
            "content-type": ["text/html; charset=UTF-8"],
        },
        "body": body,
        "after": b"",  # HTTP/1.0 without keep-alive: the connection closes
    }
    assert ours.server == []
    assert ours.log == [
        ("tornado.access", "WARNING", "400 GET /echo (127.0.0.1) N.NNms"),
        ("tornado.general", "DEBUG", body.decode()),
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [
        ["server_no_context_takeover"],
        ["client_no_context_takeover"],
        ["server_no_context_takeover", "client_no_context_takeover"],
    ],
    ids=["server", "client", "both"],
)
async def test_no_context_takeover_echoed_intentional_difference(
    diff: Differ, params: list[str]
) -> None:
    """permessage-deflate offers with ``server_no_context_takeover`` or its client twin.

    RFC 7692 section 7.1.1.1: a server accepts an offer with server_no_context_takeover by
    including it in the response (and then resets its compression context per message);
    section 7.1.1.2: a server accepting client_no_context_takeover may include it. Ours echoes
    both and, for server_no_context_takeover, sends messages that each inflate on their own.
    Tornado 6.6.1 drops parameters without a value while parsing the offer, so it answers a
    bare ``permessage-deflate`` and keeps its context. Messages round-trip the same in both.
    """
    offer = "; ".join(["permessage-deflate", *params])
    client_resets = "client_no_context_takeover" in params

    async def scenario(side: Side) -> dict[str, Any]:
        client, response = await side.open_ws("/compressed", {"Sec-WebSocket-Extensions": offer})
        assert response.status == 101, (side.impl, response)
        inflater = Inflater()
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        received, alone = [], []
        for text in ("hello hello hello", "second message", "hello hello hello"):
            if client_resets:  # what RFC 7692 section 7.1.1.2 then asks of the client
                compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            client.send_text(text)
            client.send_frame(OP_TEXT, deflate(compressor, text.encode()), rsv=4)
            for _ in range(2):
                frame = await client.recv_frame()
                assert frame is not None, (side.impl, "no echo")
                assert frame.rsv == 4, (side.impl, frame)
                alone.append(inflates_alone(frame.payload))
                received.append((frame.opcode, inflater.inflate(frame.payload)))
        client.send_close(4000, "done")
        return {
            "extensions": response.header("Sec-WebSocket-Extensions"),
            "received": received,
            "inflate alone": alone,
            "end": await client.until_eof(),
        }

    results = await diff.run(scenario)
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client["extensions"] == "permessage-deflate"
    answered = [part.strip() for part in ours.client["extensions"].split(";")]
    assert answered[0] == "permessage-deflate"
    assert sorted(answered[1:]) == sorted(params)

    for part in ("received", "end"):
        assert ours.client[part] == tornado.client[part], part
    assert tornado.client["received"] == [
        (OP_TEXT, text.encode())
        for text in ("hello hello hello", "second message", "hello hello hello")
        for _ in range(2)
    ]
    assert_same(results, "server", "log")
    # Tornado keeps its context, so a repeated message refers back to an earlier one.
    assert not all(tornado.client["inflate alone"])
    if "server_no_context_takeover" in params:
        assert all(ours.client["inflate alone"])


#: Offers RFC 7692 makes invalid, and what Tornado 6.6.1 answers to each.
INVALID_OFFERS = {
    "unknown-param": ("permessage-deflate; x-unknown-param", "permessage-deflate"),
    "no-takeover-with-value": (
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover=1",
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(INVALID_OFFERS), ids=list(INVALID_OFFERS))
async def test_invalid_deflate_offer_declined_intentional_difference(
    diff: Differ, case: str
) -> None:
    """A permessage-deflate offer with an unknown parameter, or a parameter with a value it
    must not have: ours declines it, Tornado 6.6.1 accepts it.

    RFC 7692 section 7.1: a server MUST decline an offer that contains an extension parameter
    not defined for use in an offer, or one with an invalid value (server_no_context_takeover
    takes no value, section 7.1.1.1); declining means answering without the extension
    (section 5), so ours answers the 101 without Sec-WebSocket-Extensions and sends messages
    uncompressed. Tornado 6.6.1 accepts both: it drops ``x-unknown-param`` while parsing (a
    parameter without a value, as for ``*_no_context_takeover``) and answers
    ``permessage-deflate``; it echoes ``server_no_context_takeover=1`` as offered, itself an
    invalid response. It then compresses its messages. The client sends uncompressed
    messages only, so hooks and log lines are the same on both sides.
    """
    offer, tornado_answer = INVALID_OFFERS[case]
    texts = ["hello hello hello", "second message", "hello hello hello"]

    async def scenario(side: Side) -> dict[str, Any]:
        client, response = await side.open_ws("/compressed", {"Sec-WebSocket-Extensions": offer})
        assert response.status == 101, (side.impl, response)
        inflater = Inflater()
        received = []
        for text in texts:
            client.send_text(text)  # uncompressed frames are always allowed (RFC 7692 6)
            frame = await client.recv_frame()
            assert frame is not None, (side.impl, "no echo")
            payload = inflater.inflate(frame.payload) if frame.rsv & 4 else frame.payload
            received.append((frame.rsv, frame.opcode, payload))
        client.send_close(4000, "done")
        return {
            "extensions": response.header("Sec-WebSocket-Extensions"),
            "received": received,
            "end": await client.until_eof(),
        }

    results = await diff.run(scenario)
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client["extensions"] == tornado_answer
    assert tornado.client["received"] == [(4, OP_TEXT, text.encode()) for text in texts]
    assert ours.client["extensions"] is None
    assert ours.client["received"] == [(0, OP_TEXT, text.encode()) for text in texts]
    assert ours.client["end"] == tornado.client["end"] == [("close", 4000, None), EOF]
    assert_same(results, "server", "log")
    assert ours.server == [
        ("open", (), {}),
        *[("on_message", text) for text in texts],
        ("on_close", 4000, "done"),
    ]


# ---------------------------------------------------------------------------------------------
# Frames that break RFC 6455: Tornado drops TCP, ours sends a close frame first.
# ---------------------------------------------------------------------------------------------


def _text_inside_fragmented_message(client: RawClient) -> None:
    client.send_frame(OP_TEXT, b"start", fin=False)
    client.send_frame(OP_TEXT, b"new message")


def _compressed(data: bytes) -> bytes:
    return deflate(zlib.compressobj(6, zlib.DEFLATED, -15), data)


def _deflate_rsv1_on_continuation(client: RawClient) -> None:
    client.send_frame(OP_TEXT, _compressed(b"ab"), fin=False, rsv=4)
    client.send_frame(OP_CONT, b"x", rsv=4)


def _deflate_rsv2(client: RawClient) -> None:
    client.send_frame(OP_TEXT, _compressed(b"ab"), rsv=6)


#: id -> (what it breaks, how to send it, route, Sec-WebSocket-Extensions offer).
MALFORMED_FRAMES: dict[str, tuple[str, Callable[[RawClient], None], str, str | None]] = {
    "rsv1-without-extension": (
        "RFC 6455 5.2: RSV1 set, no extension negotiated",
        lambda c: c.send_frame(OP_TEXT, b"rsv1", rsv=4),
        "/echo",
        None,
    ),
    "rsv2": (
        "RFC 6455 5.2: RSV2 set",
        lambda c: c.send_frame(OP_BINARY, b"rsv2", rsv=2),
        "/echo",
        None,
    ),
    "unknown-opcode": (
        "RFC 6455 5.2: reserved opcode 0x3",
        lambda c: c.send_frame(0x3, b"reserved opcode"),
        "/echo",
        None,
    ),
    "ping-over-125-bytes": (
        "RFC 6455 5.5: control frame payload over 125 bytes",
        lambda c: c.send_frame(OP_PING, b"p" * 126),
        "/echo",
        None,
    ),
    "fragmented-ping": (
        "RFC 6455 5.5: fragmented control frame",
        lambda c: c.send_frame(OP_PING, b"half", fin=False),
        "/echo",
        None,
    ),
    "orphan-continuation": (
        "RFC 6455 5.4: continuation frame without a message to continue",
        lambda c: c.send_frame(OP_CONT, b"nothing to continue"),
        "/echo",
        None,
    ),
    "text-inside-fragmented-message": (
        "RFC 6455 5.4: new data frame inside a fragmented message",
        _text_inside_fragmented_message,
        "/echo",
        None,
    ),
    "deflate-rsv1-on-continuation": (
        "RFC 7692 6.1: RSV1 set on a continuation frame",
        _deflate_rsv1_on_continuation,
        "/compressed",
        "permessage-deflate",
    ),
    "deflate-rsv2": (
        "RFC 6455 5.2: RSV2 set, only RSV1 negotiated (permessage-deflate)",
        _deflate_rsv2,
        "/compressed",
        "permessage-deflate",
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(MALFORMED_FRAMES), ids=list(MALFORMED_FRAMES))
async def test_malformed_frame_close_1002_before_tcp_drop_intentional_difference(
    diff: Differ, case: str
) -> None:
    """A malformed frame: ours sends close 1002 before dropping TCP, Tornado just drops it.

    RFC 6455 section 7.1.7 ("Fail the WebSocket Connection"): the endpoint SHOULD send a Close
    frame with an appropriate status code (1002, protocol error: section 7.4.1) before closing
    the TCP connection. Tornado 6.6.1 calls ``_abort()``: the client sees EOF without a close
    frame. Everything else is the same: the frame is not delivered, on_close runs once with
    close_code and close_reason None, and the same lines are logged.
    """
    _rule, send, path, offer = MALFORMED_FRAMES[case]
    results = await diff.run(violation(send, path, offer))
    assert results["tornado"].client == [EOF]
    assert results["ours"].client == [("close", 1002, None), EOF]
    assert_same(results, "server", "log")
    assert results["ours"].server == [*BEFORE, ("on_close", None, None)]
    assert results["ours"].log == [
        ("tornado.access", "INFO", f"101 GET {path} (127.0.0.1) N.NNms")
    ]


# ---------------------------------------------------------------------------------------------
# A compressed message that does not inflate: a protocol error, not an application exception.
# ---------------------------------------------------------------------------------------------


#: Our DEBUG line for a client's compressed data that does not inflate (zlib's text follows).
_DEFLATE_ERROR_LINE = re.compile(
    r"WebSocket protocol error from 127\.0\.0\.1: Error -3 while decompressing data: .+"
)
_UNCAUGHT_LINE = re.compile(
    r"Uncaught exception GET /compressed \(127\.0\.0\.1\) "
    r"\[error: Error -3 while decompressing data: .+\]"
)


@pytest.mark.asyncio
async def test_invalid_deflate_data_protocol_error_not_uncaught_exception_intentional_difference(
    diff: Differ,
) -> None:
    """A compressed (RSV1) text frame whose payload is not DEFLATE data.

    The bad data is the client's protocol error, not an exception in the application: RFC
    6455 section 7.1.7 ("Fail the WebSocket Connection"), with the payload defined by RFC 7692
    section 7.2.2. Ours sends close 1002, drops TCP and logs one DEBUG line on tornado.general
    (``WebSocket protocol error from 127.0.0.1: <zlib error>``), like its other protocol
    errors. Tornado 6.6.1 lets the ``zlib.error`` escape: it logs ERROR ``Uncaught exception``
    on tornado.application with the traceback and aborts TCP without a close frame (the D8
    difference, ``test_malformed_frame_close_1002_before_tcp_drop_intentional_difference``).
    Both run on_close once without a code and deliver nothing.
    """
    results = await diff.run(
        violation(
            lambda c: c.send_frame(OP_TEXT, b"\xff\xff\xff\xff", rsv=4),
            "/compressed",
            "permessage-deflate",
        ),
        log_level=0,
    )
    tornado, ours = results["tornado"], results["ours"]
    access = ("tornado.access", "INFO", "101 GET /compressed (127.0.0.1) N.NNms")

    assert tornado.client == [EOF]
    assert ours.client == [("close", 1002, None), EOF]
    assert_same(results, "server")
    assert ours.server == [*BEFORE, ("on_close", None, None)]

    assert len(tornado.log) == 2, tornado.log
    assert tornado.log[0] == access
    assert tornado.log[1][:2] == ("tornado.application", "ERROR")
    assert _UNCAUGHT_LINE.fullmatch(tornado.log[1][2]), tornado.log[1]

    assert len(ours.log) == 2, ours.log
    assert ours.log[0] == access
    assert ours.log[1][:2] == ("tornado.general", "DEBUG")
    assert _DEFLATE_ERROR_LINE.fullmatch(ours.log[1][2]), ours.log[1]
    assert not [entry for entry in ours.log if entry[1] in ("WARNING", "ERROR", "CRITICAL")]


# ---------------------------------------------------------------------------------------------
# Frames Tornado accepts and ours fails.
# ---------------------------------------------------------------------------------------------


#: Codes RFC 6455 section 7.4 does not allow in a close frame: 0-999 are not used, 1004 is
#: reserved, 1005/1006/1015 MUST NOT be sent, 1016-2999 are reserved for the RFC and its
#: extensions (none assigned), and 5000 and up are not defined.
RESERVED_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


@pytest.mark.asyncio
@pytest.mark.parametrize("code", RESERVED_CLOSE_CODES)
async def test_reserved_close_code_fails_1002_intentional_difference(
    diff: Differ, code: int
) -> None:
    """A close frame with a code RFC 6455 section 7.4 does not allow: ours fails with 1002.

    RFC 6455 sections 7.4.1 and 7.4.2 (and 7.1.7): a close code that is reserved, unassigned,
    or one that MUST NOT be sent (1005, 1006, 1015) is a protocol error. Ours answers close
    1002 and drops TCP; on_close sees no code. Tornado 6.6.1 accepts any code: it echoes it
    and exposes it and the reason to on_close. The accepted codes at the range edges are
    compared for identity in ``test_protocol_errors.py::test_close_code_accepted_and_echoed``.
    """

    def send(client: RawClient) -> None:
        client.send_frame(OP_CLOSE, struct.pack("!H", code) + b"why")

    results = await diff.run(violation(send))
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client == [("close", code, None), EOF]
    assert tornado.server == [*BEFORE, ("on_close", code, "why")]
    assert ours.client == [("close", 1002, None), EOF]
    assert ours.server == [*BEFORE, ("on_close", None, None)]
    assert_same(results, "log")
    assert ours.log == ACCESS_101


@pytest.mark.asyncio
async def test_one_byte_close_payload_fails_1002_intentional_difference(diff: Differ) -> None:
    """A close frame whose payload is a single byte.

    RFC 6455 section 5.5.1: a close body, if present, starts with a 2-byte code, so one byte
    is a protocol error; ours answers close 1002 and drops TCP. Tornado 6.6.1 ignores the byte
    and echoes an empty close frame. on_close sees no code in both, and both log the same.
    """
    results = await diff.run(violation(lambda c: c.send_frame(OP_CLOSE, b"\x03")))
    assert results["tornado"].client == [("close", None, None), EOF]
    assert results["ours"].client == [("close", 1002, None), EOF]
    assert_same(results, "server", "log")
    assert results["ours"].server == [*BEFORE, ("on_close", None, None)]


@pytest.mark.asyncio
async def test_invalid_utf8_close_reason_fails_1007_intentional_difference(diff: Differ) -> None:
    """A close frame with code 1000 and a reason that is not UTF-8.

    RFC 6455 section 5.5.1 (the reason is UTF-8) and section 8.1 (invalid UTF-8 fails the
    connection, code 1007 per section 7.4.1): ours answers close 1007 and drops TCP; on_close
    sees no code. Tornado 6.6.1 stores the code, fails decoding the reason and drops TCP
    without a close frame: on_close sees ``(1000, None)``.
    """
    results = await diff.run(
        violation(lambda c: c.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff\xfe"))
    )
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client == [EOF]
    assert tornado.server == [*BEFORE, ("on_close", 1000, None)]
    assert ours.client == [("close", 1007, None), EOF]
    assert ours.server == [*BEFORE, ("on_close", None, None)]
    assert_same(results, "log")
    assert ours.log == ACCESS_101


@pytest.mark.asyncio
async def test_unmasked_client_frame_fails_1002_intentional_difference(diff: Differ) -> None:
    """A client text frame without a mask.

    RFC 6455 section 5.1: a server MUST close the connection on an unmasked client frame (and
    may send 1002, section 7.4.1); ours answers close 1002, drops TCP and does not deliver the
    message. Tornado 6.6.1 accepts the frame, delivers it to on_message and stays open (here
    until the client closes with 4000 "end").
    """
    results = await diff.run(violation(lambda c: c.send_frame(OP_TEXT, b"unmasked", mask=False)))
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client == [("text", "unmasked"), STILL_OPEN, ("close", 4000, None), EOF]
    assert tornado.server == [*BEFORE, ("on_message", "unmasked"), ("on_close", 4000, "end")]
    assert ours.client == [("close", 1002, None), EOF]
    assert ours.server == [*BEFORE, ("on_close", None, None)]
    assert_same(results, "log")
    assert ours.log == ACCESS_101


@pytest.mark.asyncio
async def test_rsv1_on_control_frame_with_deflate_fails_1002_intentional_difference(
    diff: Differ,
) -> None:
    """A ping with RSV1 set (and a deflated payload) after permessage-deflate was negotiated.

    RFC 7692 section 6: an endpoint MUST NOT set the "Per-Message Compressed" bit (RSV1) on a
    control frame, and one receiving such a frame MUST fail the connection; RFC 6455 section
    5.2: RSV1 only has the meaning an extension gives it, and permessage-deflate gives it one
    on the first frame of a data message only. Ours answers close 1002 and drops TCP; on_ping
    does not run and on_close sees no code. Tornado 6.6.1 inflates the payload, answers the
    pong, runs ``on_ping(b"p")`` and stays open (here until the client closes with 4000
    "end").
    """
    payload = deflate(zlib.compressobj(6, zlib.DEFLATED, -15), b"p")
    results = await diff.run(
        violation(
            lambda c: c.send_frame(OP_PING, payload, rsv=4), "/compressed", "permessage-deflate"
        )
    )
    tornado, ours = results["tornado"], results["ours"]
    assert tornado.client == [("pong", b"p"), STILL_OPEN, ("close", 4000, None), EOF]
    assert tornado.server == [*BEFORE, ("on_ping", b"p"), ("on_close", 4000, "end")]
    assert ours.client == [("close", 1002, None), EOF]
    assert ours.server == [*BEFORE, ("on_close", None, None)]
    assert_same(results, "log")
    assert ours.log == [("tornado.access", "INFO", "101 GET /compressed (127.0.0.1) N.NNms")]
