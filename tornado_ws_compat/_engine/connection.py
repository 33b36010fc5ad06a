"""One server-side WebSocket: frames in, handler hooks, frames out (RFC 6455, RFC 7692).

The hot path is synchronous. :class:`FrameGuard` unmasks and delivers the common frame (a
whole small text or binary message) itself; aiohttp's frame reader parses everything else and
hands each message to :class:`_Inbox`; either calls ``handler.on_message`` at once.
``write_message`` writes the frame to the transport at once. No task, future or queue is
involved per message while hooks are plain functions.

When a hook returns an awaitable (a coroutine ``open``, ``on_message`` or ``on_pong``), the
inbox is *held*: later messages wait in aiohttp's bounded queue, which pauses reading from the
socket when it fills (backpressure), and are delivered in order after the awaitable finishes.
This is Tornado's rule: no message before ``open`` returns, one ``on_message`` at a time.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import socket
import struct
import sys
import zlib
from sys import getrefcount as _getrefcount
from threading import get_ident as _thread_ident
from time import perf_counter as _clock
from typing import TYPE_CHECKING, Any, Final, cast

from aiohttp._websocket.helpers import websocket_mask
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp.http_websocket import WebSocketError as ReaderError
from aiohttp.http_websocket import WSMsgType
from aiohttp.streams import EofStream

from tornado_ws_compat._engine.pinger import NO_PINGS, Pinger
from tornado_ws_compat.errors import WebSocketClosedError
from tornado_ws_compat.escape import json_encode
from tornado_ws_compat.lifecycle import (
    CloseAction,
    Lifecycle,
    State,
    WebSocketParams,
    is_valid_close_code,
)
from tornado_ws_compat.log import gen_log
from tornado_ws_compat.websocket import WebSocketHandler

if TYPE_CHECKING:
    from aiohttp.base_protocol import BaseProtocol

    from tornado_ws_compat.extensions import DeflateAgreement

__all__ = [
    "DEFAULT_MAX_WRITE_BUFFER",
    "DEFAULT_WRITE_STALL_TIMEOUT",
    "FrameGuard",
    "ServerConnection",
    "set_nodelay",
]

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
_CLOSE: Final = WSMsgType.CLOSE
_OPEN: Final = State.OPEN

_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_OP_CLOSE: Final = 0x8
_OP_PING: Final = 0x9
_OP_PONG: Final = 0xA
_RSV1: Final = 0x40  # RFC 7692 section 6: "Per-Message Compressed" bit
_RSV_BITS: Final = 0x70
_TOO_BIG_INFLATED: Final = "message too big after decompression"
_INVALID_UTF8: Final = "invalid UTF-8 in a text message"
_UTF8_DECODER: Final = codecs.getincrementaldecoder("utf-8")

# Tasks of hooks and flush waiters, referenced until done (the loop holds weak references).
_BACKGROUND: set[asyncio.Task[None]] = set()

_PACK_SHORT = struct.Struct("!BB").pack
_PACK_MEDIUM = struct.Struct("!BBH").pack
_PACK_LONG = struct.Struct("!BBQ").pack
# The 2-byte headers of whole text and binary frames of 0-125 bytes, by length.
_TEXT_HEADS: Final = tuple(_PACK_SHORT(0x81, n) for n in range(126))
_BINARY_HEADS: Final = tuple(_PACK_SHORT(0x82, n) for n in range(126))
# Never changed: ``_NO_BYTES + data`` is a new bytearray holding a copy of ``data`` (a
# bytearray's concatenation always makes a new object), for less than ``bytearray(data)``,
# a call of the type (CPython 3.11, callgrind: about 450 instructions less per copy).
_NO_BYTES: Final = bytearray()
# Payloads above this size are written separately instead of copied behind the header.
_COPY_LIMIT: Final = 4096
# Batches of at most this many payload bytes are joined and written as one buffer: uvloop's
# write of one joined copy costs less than its writelines of small frames (8 frames of 74
# bytes: 0.3 us less per batch, 64: 2.5 us; from about 4 KB frames on, the copy costs more).
_JOIN_LIMIT: Final = 8192
# Tornado 6.6 yields to the event loop after this much work in one burst, each frame
# costing its size plus _FRAME_YIELD_COST (tornado.websocket._YIELD_THRESHOLD).
_YIELD_THRESHOLD: Final = 256 * 1024
_FRAME_YIELD_COST: Final = 1024
# Common frames (at most 125 bytes of payload each) one read surely may deliver before it
# reaches _YIELD_THRESHOLD; FrameGuard delivers them without counting.
_SURELY_UNDER_THRESHOLD: Final = range((_YIELD_THRESHOLD - 1) // (_FRAME_YIELD_COST + 125))


def _frame_sizes(top: int) -> tuple[int, ...]:
    """By a frame's second byte: the size of the whole frame (2 + 4 + payload) when the byte
    says masked with a payload under 126 bytes and at most ``top`` - 0x80, else 0."""
    return tuple(second - 0x7A if 0x80 <= second <= top else 0 for second in range(256))


# _frame_sizes by ``top``: a connection's is that of its limit (few distinct values).
_FRAME_SIZES: dict[int, tuple[int, ...]] = {}
# Seconds of hooks' time a held frame may wait for the hooks after its own (see _WriteScope).
_BATCH_BUDGET: Final = 0.001
# Frames added to held batches between two readings of the clock (see _WriteScope).
_CHECK_EVERY: Final = 32
_NEVER: Final = float("inf")
# Frames written to a connection directly, though another's read holds frames, after one of
# its held batches fell due with a single frame (see _WriteScope).
_SOLO_FRAMES: Final = 8
# sys.getrefcount of a batch's future that only the connection holds: its slot, _send_batch's
# local name and getrefcount's own argument (CPython 3.11-3.13).
_UNSEEN: Final = 3
# Messages aiohttp's queue may hold while a coroutine hook runs, before reading pauses.
_INBOX_LIMIT: Final = 64 * 1024
#: Bytes a connection may have waiting in its socket buffer before the peer is throttled: the
#: server stops reading from it until all of that is flushed. Writers that await
#: ``write_message`` are throttled long before this.
DEFAULT_MAX_WRITE_BUFFER: Final = 64 * 1024 * 1024
#: Seconds a throttled peer may go without its pending bytes shrinking before it is dropped:
#: it is not reading (or reads slower than it is written to, without end).
DEFAULT_WRITE_STALL_TIMEOUT: Final = 30.0
# Tornado's default compression level for permessage-deflate (GZipContentEncoding.GZIP_LEVEL).
_DEFAULT_COMPRESSION_LEVEL: Final = 6
_DEFAULT_MEM_LEVEL: Final = 8


def set_nodelay(transport: asyncio.BaseTransport | None, value: bool) -> None:
    """Turn Nagle's algorithm off (True) or on for a TCP transport; others are left alone."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if value else 0)


def _fail_quietly(waiter: asyncio.Future[None]) -> None:
    """Fail a write's future; nobody awaiting it must not log "exception never retrieved"."""
    if not waiter.done():
        waiter.set_exception(WebSocketClosedError())
        waiter.exception()


def _copy_outcome(done: asyncio.Future[None], waiter: asyncio.Future[None]) -> None:
    if waiter.done():
        return
    if done.cancelled() or done.exception() is not None:
        _fail_quietly(waiter)
    else:
        waiter.set_result(None)


def _frame_header(first_byte: int, length: int) -> bytes:
    """RFC 6455 section 5.2 header of a server frame (never masked)."""
    if length < 126:
        return _PACK_SHORT(first_byte, length)
    if length < 65536:
        return _PACK_MEDIUM(first_byte, 126, length)
    return _PACK_LONG(first_byte, 127, length)


class _SharedFrame:
    """The frame of the last small ``str``/``bytes`` message written without deflate, so that
    writing the same object to many sockets builds its frame once (RFC 6455 section 5.2:
    server frames are not masked, so every receiver gets the same bytes)."""

    __slots__ = ("binary", "frame", "message", "size")

    def __init__(self) -> None:
        self.message: object = None
        self.binary = False
        self.frame = b""
        self.size = 0


class _WriteScope:
    """While the messages of one read are handled (``batch_writes`` .. ``flush_writes``), the
    frames hooks write to any connection (the reader's replies, a broadcast to others) are
    held in that connection's batch, and each batch leaves in one write: a connection that
    gets several messages during the read gets them in one system call.

    A held frame may wait for the rest of the hook that wrote it (Tornado would have sent it
    during that hook, but nothing else runs meanwhile) and then for at most about
    ``_BATCH_BUDGET`` of other hooks' time (issue 11: a reply written in a 20 ms hook may
    leave when that hook returns, not behind the next one). Connections queue in the order
    they first get a frame, in groups of up to 32 that each begin and fill during one hook;
    a group's budget starts when that hook returns. Between two hooks, when a group begins
    and every 32nd frame added to a held batch, the clock is read and the groups past their
    budget are sent. A connection sent early joins again, at the back, with its next frame.
    Time spent sending is not hooks' time (Tornado sends inside the hook that writes): it
    does not age what is still held.

    A hook may block without writing (nothing reads the clock then): when a stretch without
    a clock reading outlasted the budget, the next hook may be as slow, so everything held
    is sent before it runs (``tests/test_reply_delay.py``).

    A connection whose batch falls due with a single frame gets its frames further apart
    than the budget (a broadcast to so many sockets that one loop outlasts it, and this
    one comes late in the loop): holding it cannot pay, so its next ``_SOLO_FRAMES`` frames
    are written as they come, as if nothing were held; then it is held again. The others
    (earlier in the loop, their next frame written within the budget) are still held, two
    or more frames a write. A direct write counts towards the next clock reading as a held
    frame does, so the held ones still leave in time.
    """

    __slots__ = (
        "alarm",
        "countdown",
        "deadline",
        "fresh",
        "joined",
        "last",
        "marks",
        "open",
        "owner",
        "pending",
        "sending",
        "sent",
    )

    def __init__(self) -> None:
        self.owner: ServerConnection | None = None
        self.open = False  # a read is being handled: frames written now are held
        self.joined: list[ServerConnection] = []  # in the order of their first held frame
        self.sent = 0  # joined[:sent] have been sent
        # Per group of 32 joins: hooks' time when its budget began (when the hook during
        # which it began returned); groups from ``pending`` on began in the running hook.
        self.marks: list[float] = []
        self.pending = 0
        self.fresh = False  # a group began during the running hook
        self.sending = 0.0  # seconds of this read spent sending (hooks' time = clock - this)
        self.deadline = _NEVER  # _clock() at which the oldest held group is due
        # The last reading of the clock (moved on by the time spent sending since): the
        # stretch after it is slow once it outlasts the budget.
        self.last = _NEVER
        # Between hooks, a reading of the clock up to this needs nothing but a new ``last``:
        # at most min(last + budget, deadline), and -inf while ``fresh`` (one test per hook;
        # earlier than needed only costs a call to between_hooks, which sets it anew).
        self.alarm = -_NEVER
        self.countdown = _CHECK_EVERY  # held frames until the next clock reading

    def begin(self, owner: ServerConnection) -> None:
        """``owner`` is about to handle the messages of one read; its replies are held."""
        self.owner = owner
        self.open = True
        self.last = _clock()
        self.countdown = _CHECK_EVERY
        self.marks.append(_NEVER)
        self.fresh = True
        self.alarm = -_NEVER
        self.joined.append(owner)
        owner._hold_batch()

    def join(self, connection: ServerConnection) -> None:
        """Hold ``connection``'s frames from now on (its first counts as a held frame; a new
        group reads the clock first). A connection joins a group only during the hook in
        which the group began: one whose hook returned is closed (padded with gaps), since
        its budget started before this frame was written."""
        joined = self.joined
        if self.countdown <= 0 or not self.fresh or not len(joined) & 31:
            self.check()  # may send what is held, all of it or not
        if not self.fresh or not len(joined) & 31:  # a new group
            joined += _GAPS[len(joined) & 31]
            self.marks.append(_NEVER)
            self.fresh = True
            self.alarm = -_NEVER
        joined.append(connection)
        connection._hold_batch()

    def apart(self, connection: ServerConnection) -> bool:
        """``connection`` is set apart (see the class): its frame is written now, and counts
        towards the next clock reading as a held one does. Returns True."""
        connection._solo -= 1
        self.countdown -= 1
        if self.countdown <= 0:
            self.check()
        return True

    def check(self, connection: ServerConnection | None = None) -> bool:
        """Every ``_CHECK_EVERY`` held frames: send the groups past their budget. Returns
        whether ``connection`` (writing the frame that called) is still held."""
        self.countdown = _CHECK_EVERY
        now = _clock()
        if now - self.last > _BATCH_BUDGET:
            # A slow stretch (a pause, or a hook that blocked before writing): ``last`` stays
            # behind, so that everything is sent before the next hook; what fell due
            # meanwhile says nothing about whether holding pays (no connection is set apart).
            if now > self.deadline:
                self._send_due(now, False)
        else:
            self.last = now
            if now > self.deadline:
                self._send_due(now, True)
        return connection is not None and connection._batching

    def between_hooks(self, now: float) -> None:
        """A hook returned at ``now``, the next is to run: the groups that began during it
        start their budget; send those past it, or everything after a slow stretch. Called
        when the clock passed ``alarm``. (The reader's path calls it before a read's first
        hook too: the reader's group then starts its budget early, which only holds less.)"""
        if self.fresh:
            self.fresh = False
            marks = self.marks
            if len(marks) == 1 and not self.sent and now - self.last <= _BATCH_BUDGET:
                # One group, the first: most often the reader's own, after the read's first
                # hook. It starts its budget now, and nothing else is due or slow.
                marks[0] = now - self.sending
                self.pending = 1
                self.last = now
                self.deadline = self.alarm = now + _BATCH_BUDGET
                self.countdown = _CHECK_EVERY
                return
            group = self.pending
            groups = self.pending = len(marks)
            mark = now - self.sending
            while group < groups:
                marks[group] = mark
                group += 1
            if self.deadline == _NEVER:  # (joined is not empty while fresh)
                self.deadline = marks[self.sent >> 5] + self.sending + _BATCH_BUDGET
        if now - self.last > _BATCH_BUDGET:  # the next hook may block as long: send all now
            self._send(len(self.joined))
            now = _clock()
        elif now > self.deadline:
            self._send_due(now, True)
            now = _clock()
        self.last = now
        deadline = self.deadline
        slow = now + _BATCH_BUDGET
        self.alarm = deadline if deadline < slow else slow
        self.countdown = _CHECK_EVERY

    def _send_due(self, now: float, judge: bool) -> None:
        """Send the groups whose budget ran out by ``now``; those of their connections that
        had a single frame (when ``judge``) are written directly for a while (see the
        class)."""
        due = now - self.sending - _BATCH_BUDGET
        marks = self.marks
        pending = self.pending
        group = self.sent >> 5
        while group < pending and marks[group] <= due:
            group += 1
        self._send(min(group << 5, len(self.joined)), judge)

    def _send(self, stop: int, judge: bool = False) -> None:
        """Send the batches of ``joined[sent:stop]``; with ``judge``, a batch of a single
        frame sets its connection apart for ``_SOLO_FRAMES`` frames."""
        joined = self.joined
        start = self.sent
        if stop <= start:
            return
        began = _clock()
        self.sent = stop
        for index in range(start, stop):
            connection = joined[index]  # release_batch, inlined: once per write
            connection._batching = False
            batch = connection._batch
            if batch:
                if judge and len(batch) == 1:
                    connection._solo = _SOLO_FRAMES
                connection._send_batch()
        spent = _clock() - began
        self.sending += spent
        self.last += spent
        if stop >= len(joined):
            self._forget()
        else:
            group = stop >> 5
            if group < self.pending:
                self.deadline = self.marks[group] + self.sending + _BATCH_BUDGET
            else:
                self.deadline = _NEVER  # the rest began in the running hook

    def _forget(self) -> None:
        self.joined.clear()
        self.marks.clear()
        self.sent = self.pending = 0
        self.fresh = False
        self.deadline = _NEVER

    def close(self) -> None:
        """The read is handled: send everything held (_send's loop, without the clock
        readings that only matter while hooks still run)."""
        self.owner = None
        self.open = False
        joined = self.joined
        start = self.sent
        self.sent = stop = len(joined)
        for index in range(start, stop):
            connection = joined[index]
            connection._batching = False
            if connection._batch:
                connection._send_batch()
        self._forget()
        self.sending = 0.0


#: The handler method that a connection's write_message stands in for (see write_message).
_HANDLER_WRITE: Final = WebSocketHandler.write_message
_SHARED: Final = _SharedFrame()
_SCOPE: Final = _WriteScope()


class _Inbox(WebSocketDataQueue):
    """aiohttp's message queue, short-circuited: messages go straight to the connection.

    Only while the connection is held do messages take the queue's own (bounded) path.
    """

    __slots__ = ("connection",)

    connection: ServerConnection

    def feed_data(self, data: Any, size: int) -> None:
        connection = self.connection
        if not connection.direct:  # else the hot path: nothing to count or queue
            if connection.held:
                WebSocketDataQueue.feed_data(self, data, size)
                return
            work = connection.work + size + _FRAME_YIELD_COST
            if work >= _YIELD_THRESHOLD:
                # A burst of frames in one read: let other connections run (Tornado 6.6's
                # _YIELD_THRESHOLD); the rest of the burst is delivered after a loop turn.
                connection.work = 0
                connection.held = True
                WebSocketDataQueue.feed_data(self, data, size)
                connection.drain_soon()
                return
            connection.work = work
        if _SCOPE.open:  # between two hooks of this read: send what was held long enough
            now = _clock()
            if now > _SCOPE.alarm:
                _SCOPE.between_hooks(now)
            else:
                _SCOPE.last = now
        # Deliver; hold the inbox if a hook returned an awaitable. Inlined for a data message
        # (once per message); the rest, and every rare state, goes through _deliver.
        kind = data[0]
        if (
            (kind is _TEXT or kind is _BINARY)
            and not connection._compressed
            and not connection.lifecycle.client_terminated
        ):
            try:
                result = connection.handler.on_message(data[1])
            except (Exception, asyncio.CancelledError):
                connection._hook_failed()
                return
        else:
            result = connection._deliver(data)
        if result is not None:
            connection.hold_for(result)

    def feed_eof(self) -> None:
        WebSocketDataQueue.feed_eof(self)
        connection = self.connection
        if not connection.held:
            connection.finalize()

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        WebSocketDataQueue.set_exception(self, exc)
        connection = self.connection
        # The reader failed (or FrameGuard did): nothing after the failed frame is parsed or
        # delivered, not even by FrameGuard itself.
        connection.parser.refuse()
        if not connection.held:
            connection.fail(exc)


class FrameGuard:
    """What the socket delivers passes here first: frame headers aiohttp would accept but
    RFC 6455 forbids fail the connection with 1002 before the frame reaches the reader.

    Section 5.1: every client frame is masked. Section 5.2 / RFC 7692 section 6: RSV1 is
    meaningful only on the first frame of a data message, never on a control frame. The scan
    reads only the 2-14 header bytes of each frame and skips payloads without copying them.

    Section 8.1 asks to fail a connection on invalid UTF-8 "when an endpoint is to interpret"
    it; Autobahn 6.4 checks that it happens at the offending bytes ("fail fast"). aiohttp's
    reader decodes a text message when it is complete, which for a message in one frame that
    arrived in one read is already that point: those, the hot path, are not touched here.
    The payload of a text frame that continues in a later read, and every frame of a
    fragmented text message, is unmasked and fed to an incremental decoder as it arrives, and
    an invalid byte fails the connection with 1007 before anything after it is parsed.
    Compressed messages (RSV1) are checked by the reader once inflated.
    """

    __slots__ = (
        "_boundary",
        "_connection",
        "_failed",
        "_fragmented",
        "_head",
        "_limit",
        "_reader",
        "_sizes",
        "_skip",
        "_text_last",
        "_text_mask",
        "_text_size",
        "_utf8",
    )

    def __init__(
        self,
        reader: WebSocketReader | None,
        connection: ServerConnection,
        limit: int = sys.maxsize,
    ) -> None:
        # aiohttp's reader for what the paths here do not deliver; None until first needed
        # (most connections never need it: see ServerConnection.full_reader).
        self._reader = reader
        self._connection = connection
        # The reader's message size limit: a text message past it is failed with 1009 on
        # the header that takes it there (before its payload), so it is not checked here.
        self._limit = limit
        # By second header byte, the size of a frame delivered here without the reader (see
        # feed_data): masked, a length under 126 and within the limit; none when compressed.
        top = 0 if connection._compressed else 0x80 + min(125, limit)
        sizes = _FRAME_SIZES.get(top)
        if sizes is None:
            sizes = _FRAME_SIZES[top] = _frame_sizes(top)
        self._sizes = sizes
        self._text_size = 0  # payload bytes of the checked text message so far
        self._skip = 0  # payload bytes of the current frame still to come
        self._head = b""  # the first bytes of a frame header cut by a read
        self._fragmented = False  # inside a message whose final frame has not come yet
        # The next read starts a frame, outside a fragmented message: none of the three above.
        self._boundary = True
        self._failed = False
        self._utf8: Any = None  # the decoder of a text message checked as it arrives
        self._text_mask = b""  # the current frame is checked: its mask, at the next byte
        self._text_last = False  # ... and it ends its message

    def feed_eof(self) -> None:
        reader = self._reader
        if reader is None:
            connection = self._connection
            if connection is None:  # detached: the connection has ended already
                return
            if not connection.held:  # no reader, so no message waits: the end is now
                connection.finalize()
                return
            reader = self._full_reader()  # the end waits behind open() in the queue
        reader.feed_eof()

    def _full_reader(self) -> WebSocketReader:
        """aiohttp's reader, made on first use."""
        reader = self._reader
        if reader is None:
            reader = self._reader = self._connection.full_reader()
        return reader

    def refuse(self) -> None:
        """A frame failed the connection: take nothing more from the socket."""
        self._failed = True
        self._boundary = False  # (feed_data tests this flag alone first)

    def detach(self) -> None:
        """The connection is over: refuse anything more, forget the connection."""
        self._failed = True
        self._boundary = False
        self._connection = None  # type: ignore[assignment]

    def feed_peer_eof(self) -> None:
        """The peer sent FIN (a half-close) without, or after, its close frame."""
        self._connection.peer_eof()

    def feed_data(self, data: bytes) -> None:
        connection = self._connection
        # A failed guard is never at a boundary (refuse, detach and _reject clear it): the
        # common read tests one flag, and the failed state is tested only when it is False.
        if self._boundary and not connection.held:
            # The common frame: a whole text or binary message (FIN, no RSV bit), masked,
            # payload under 126 bytes and within the size limit, at a message boundary.
            # This guard unmasks and delivers it itself: aiohttp's reader and its queue cost
            # more for it than these few steps (bench/echo_path.py). Anything else goes on
            # to the scan and the reader below, which never see the frames delivered here.
            size = len(data)
            first = data[0]
            try:
                stop = self._sizes[data[1]]  # 2 + 4 (mask) + payload, or 0
            except IndexError:  # a read of one byte (reads are never empty)
                stop = 0
            if stop and (first == 0x81 or first == 0x82):
                if stop == size and not _SCOPE.open and not connection.lifecycle.client_terminated:
                    # One message in flight: the read is this one frame.
                    payload = _NO_BYTES + data  # a new bytearray (see _NO_BYTES)
                    del payload[:6]  # the header: O(1) at a bytearray's start
                    websocket_mask(data[2:6], payload)
                    if first == 0x82:
                        message: str | bytes = bytes(payload)
                    else:
                        try:
                            message = payload.decode()
                        except UnicodeDecodeError:
                            self._scan(data, 0)  # the reader fails it with 1007
                            return
                    try:
                        result = connection.handler.on_message(message)
                    except (Exception, asyncio.CancelledError):
                        connection._hook_failed()
                        return
                    if result is not None:
                        connection.hold_for(result)
                    return
                if stop < size:
                    # Several messages: one write for the replies (batch_writes and
                    # flush_writes, inlined).
                    scope = _SCOPE
                    if scope.owner is None:
                        scope.begin(connection)
                    try:
                        self._deliver_frames(data, size, stop)
                    finally:
                        if scope.owner is connection:
                            scope.close()
                        else:
                            connection.flush_writes()
                    return
            elif first == 0x88 and size > 5 and size == data[1] - 0x7A and not _SCOPE.open:
                # The peer's close frame alone in a read (the closing handshake's usual
                # read), masked, payload under 126 bytes: see _peer_close_frame.
                if self._peer_close_frame(data, size):
                    return
        elif self._failed:
            return
        self._scan(data, 0)

    def _peer_close_frame(self, data: bytes, size: int) -> bool:
        """Hand the close frame ``data`` to the connection as aiohttp's reader would: its
        code and reason (RFC 6455 section 5.5.1; none: code 0, as the reader reports an
        empty payload). Only a frame the reader would pass as it is: an empty payload, or
        a code a peer may send (section 7.4) and a UTF-8 reason (section 8.1); for any
        other, False, and the reader judges it (a 1002 or 1007, with its own message)."""
        if size == 6:
            code, reason = 0, ""
        elif size == 7:
            return False  # a 1-byte payload
        else:
            payload = bytearray(data)
            del payload[:6]
            websocket_mask(data[2:6], payload)
            code = payload[0] << 8 | payload[1]
            if not is_valid_close_code(code):
                return False
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                return False
        self._connection._peer_closed(code, reason)
        return True

    def _deliver_frames(self, data: bytes, size: int, stop: int) -> None:
        """Deliver the common frames at the start of ``data`` (see feed_data; the first ends
        at ``stop``), then pass the rest on to the scan. Stops at anything else, at a hook
        that fails or returns an awaitable (the rest then waits in the reader's queue), and
        after as many frames as certainly stay under Tornado's yield threshold (the reader's
        path counts on)."""
        connection = self._connection
        handler = connection.handler
        lifecycle = connection.lifecycle
        scope = _SCOPE
        sizes = self._sizes
        end = size - 1  # a frame's first two bytes start before it
        pos = 0
        first = data[0]
        unmasked = _NO_BYTES + data  # one copy of the read; each payload is cut from it
        for _ in _SURELY_UNDER_THRESHOLD:
            if lifecycle.client_terminated:
                break
            start = pos + 6
            payload = unmasked[start:stop]
            websocket_mask(data[pos + 2 : start], payload)
            if first == 0x82:
                message: str | bytes = bytes(payload)
            else:
                try:
                    message = payload.decode()
                except UnicodeDecodeError:
                    break  # the reader fails the connection with 1007
            pos = stop
            try:
                result = handler.on_message(message)
            except (Exception, asyncio.CancelledError):
                connection._hook_failed()
                break
            if result is not None:
                connection.hold_for(result)
                break
            if pos >= end:
                break
            first = data[pos]
            stop = pos + sizes[data[pos + 1]]
            if not (pos < stop <= size and (first == 0x81 or first == 0x82)):
                break
            # Between two hooks of this read (as in _Inbox). A hook that closed the scope
            # (aborting its own connection) terminated the client too: the next turn stops.
            now = _clock()
            if now > scope.alarm:
                scope.between_hooks(now)
            else:
                scope.last = now
        if pos >= size:
            return
        # What was delivered counts towards the threshold: payload bytes and _FRAME_YIELD_COST
        # per frame (each frame delivered here took its 6 header bytes of ``pos``).
        work = pos + (pos and self._delivered(data, pos)) * (_FRAME_YIELD_COST - 6)
        self._scan(data[pos:] if pos else data, work)

    @staticmethod
    def _delivered(data: bytes, end: int) -> int:
        """How many common frames ``data[:end]`` holds (frame boundaries from the start)."""
        count = pos = 0
        while pos < end:
            pos += data[pos + 1] - 0x7A
            count += 1
        return count

    def _scan(self, data: bytes, work: int) -> None:
        """Check the frame headers of a read (and text as it arrives), then hand it to the
        reader: the frames that feed_data does not deliver itself (``work``: the cost of
        those it delivered from this read, see _YIELD_THRESHOLD)."""
        size = len(data)
        skip = self._skip
        connection = self._connection
        connection.work = work
        if skip >= size:
            # Inside one frame's payload: at most one message ends here, nothing to batch.
            connection.direct = False
            self._skip = skip - size
            self._boundary = skip == size and not self._fragmented
            if self._text_mask and not self._text_rest(data, 0, size, skip == size):
                self._reject(data, 0, 1007, _INVALID_UTF8)
                return
            self._full_reader().feed_data(data)
            return
        head = self._head
        buf = head + data if head else data
        pos = skip
        end = len(buf)
        error = None
        code = 1002
        fragmented = self._fragmented
        frames = 1 if skip else 0  # frames that end or start in this read
        if self._text_mask and not self._text_rest(buf, 0, skip, True):
            self._reject(data, 0, 1007, _INVALID_UTF8)
            return
        while end - pos >= 2:
            frames += 1
            first, second = buf[pos], buf[pos + 1]
            if (first == 0x81 or first == 0x82) and 0x80 <= second <= 0xFD and not fragmented:
                # The common frame, checked in one test: a whole text or binary message
                # (FIN, no RSV bit), masked, payload under 126 bytes, outside a fragmented
                # message. A text one that this read does not hold whole is checked below.
                following = pos + second - 0x7A  # 2 + 4 (mask) + second & 0x7F
                if following <= end or first == 0x82:
                    pos = following
                    continue
            # The first two bytes decide these, even when the rest of the header is cut.
            if not second & 0x80:
                error = "unmasked client frame"
                break
            if first & 0x48 == 0x48:  # RSV1 together with the control-frame opcode bit
                error = "RSV1 set on a control frame"
                break
            length = second & 0x7F
            if length < 126:
                header = 6  # the 4 mask bytes may still be cut off: only a text check needs them
            else:
                header = 8 if length == 126 else 14
                if end - pos < header:
                    break  # the length is cut: scan this header again with the next read
                length = int.from_bytes(buf[pos + 2 : pos + header - 4], "big")
            following = pos + header + length
            opcode = first & 0x0F
            if opcode == 0x1 or opcode == 0x2:
                # Section 5.4: a new message may not start inside a fragmented one. aiohttp
                # misses this when the first fragment was empty.
                if fragmented:
                    error = "new message inside a fragmented message"
                    break
                if (
                    opcode == 0x1
                    and (following > end or not first & 0x80)
                    and not first & _RSV_BITS  # compressed, or the reader's 1002
                ):
                    if length > self._limit:
                        self._utf8 = None  # the reader fails it with 1009 on its header
                    else:
                        if end - pos < header:
                            break  # the mask is cut: scan this header again with the next read
                        self._utf8 = _UTF8_DECODER()
                        self._text_size = length
                        if not self._text_frame(buf, pos + header, length, first & 0x80, end):
                            error, code = _INVALID_UTF8, 1007
                            break
                fragmented = not first & 0x80
            elif opcode == 0x0:
                if self._utf8 is not None and not first & _RSV_BITS:
                    text_size = self._text_size + length
                    if text_size > self._limit:
                        self._utf8 = None  # the reader fails it with 1009 on this header
                    else:
                        if end - pos < header:
                            break  # the mask is cut: scan this header again with the next read
                        self._text_size = text_size
                        if not self._text_frame(buf, pos + header, length, first & 0x80, end):
                            error, code = _INVALID_UTF8, 1007
                            break
                if first & 0x80:
                    fragmented = False
            pos = following
        if error is not None:
            self._reject(data, pos - len(head), code, error)
            return
        # Every message of this read is whole in it and their cost stays under Tornado's
        # yield threshold (a message's size is at most its share of the read): nothing to
        # count per message (see ServerConnection.direct).
        connection.direct = (
            not skip
            and not self._fragmented
            and connection.work + end + frames * _FRAME_YIELD_COST < _YIELD_THRESHOLD
            and not connection.held
            and not connection._compressed
        )
        self._fragmented = fragmented
        if pos >= end:
            self._skip, self._head = pos - end, b""
        else:
            self._skip, self._head = 0, buf[pos:]
        self._boundary = pos == end and not fragmented
        reader = self._full_reader()
        if frames < 2:
            reader.feed_data(data)  # one message at most: no batch to make
            return
        connection.batch_writes()
        try:
            reader.feed_data(data)
        finally:
            connection.flush_writes()

    def _reject(self, data: bytes, valid: int, code: int, error: str) -> None:
        """Parse the frames before the offending one, then fail with ``code``."""
        self._failed = True
        self._boundary = False
        connection = self._connection
        connection.direct = False
        if valid > 0:
            connection.batch_writes()
            try:
                self._full_reader().feed_data(data[:valid])
            finally:
                connection.flush_writes()
        connection.protocol_violation(ReaderError(code, error))

    def _text_frame(self, buf: bytes, start: int, length: int, last: int, end: int) -> bool:
        """Check the payload of the text frame at ``start`` as far as this read has it."""
        mask = buf[start - 4 : start]
        stop = start + length
        if stop <= end:
            return self._decode(mask, buf, start, stop, bool(last))
        self._text_mask, self._text_last = mask, bool(last)
        return self._text_rest(buf, start, end, False)

    def _text_rest(self, buf: bytes, start: int, stop: int, done: bool) -> bool:
        """Check more of the payload of the checked frame that an earlier read began."""
        mask = self._text_mask
        if done:
            self._text_mask = b""
            return self._decode(mask, buf, start, stop, self._text_last)
        shift = (stop - start) % 4  # the mask byte that applies to the next payload byte
        self._text_mask = mask[shift:] + mask[:shift]
        return self._decode(mask, buf, start, stop, False)

    def _decode(self, mask: bytes, buf: bytes, start: int, stop: int, last: bool) -> bool:
        """Unmask and decode a piece of text payload; False at an invalid byte."""
        decoder = self._utf8
        if last:
            self._utf8 = None  # the reader checks the complete message's end itself
        if start == stop:
            return True
        piece = bytearray(buf[start:stop])
        websocket_mask(mask, piece)
        try:
            decoder.decode(piece)
        except UnicodeDecodeError:
            return False
        # CPython's decoder waits for the third byte of ED A0-BF (a surrogate, RFC 3629
        # section 3) before it refuses it; the second byte already decides.
        pending = decoder.getstate()[0]
        return not (len(pending) > 1 and pending[0] == 0xED and pending[1] >= 0xA0)


class _Compressor:
    """permessage-deflate for outgoing messages (RFC 7692 section 7.2.1)."""

    __slots__ = ("_level", "_mem_level", "_reset", "_wbits", "_zlib")

    def __init__(self, agreement: DeflateAgreement, options: dict[str, Any]) -> None:
        self._level = int(options.get("compression_level", _DEFAULT_COMPRESSION_LEVEL))
        self._mem_level = int(options.get("mem_level", _DEFAULT_MEM_LEVEL))
        self._wbits = agreement.server_max_window_bits
        self._reset = agreement.server_no_context_takeover
        self._zlib = self._new()

    def _new(self) -> Any:
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._wbits, self._mem_level)

    def compress(self, data: bytes) -> bytes:
        compressor = self._new() if self._reset else self._zlib
        out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # Section 7.2.1: drop the 0x00 0x00 0xff 0xff tail of the sync flush.
        return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


class _StreamView:
    """``ws_connection.stream``: the part of Tornado's IOStream that WebSocket programs use,
    above all ``closed()``, checked before writing to a socket kept in a set. As Tornado
    6.6.1's stream, it is closed once the socket is gone or both sides sent their close
    frames (``WebSocketProtocol13.close`` closes it then)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: ServerConnection) -> None:
        self._connection = connection

    def closed(self) -> bool:
        connection = self._connection
        lifecycle = connection.lifecycle
        if lifecycle.client_terminated and lifecycle.server_terminated:
            return True
        return connection._transport.is_closing()

    @property
    def socket(self) -> socket.socket | None:
        """The connection's socket (None once it is closed)."""
        transport = self._connection._transport
        return None if transport.is_closing() else transport.get_extra_info("socket")

    def set_nodelay(self, value: bool) -> None:
        self._connection.set_nodelay(value)

    def close(self) -> None:
        """Drop the connection now, with no closing handshake (``on_close`` runs)."""
        self._connection.abort()


class _WriteFields:
    """The fields of a :class:`ServerConnection` that ``write_message`` and sending a batch
    read. An instance's slots are laid out base class first (each class's in name order),
    so these share the first two or three of its six cache lines instead of spreading over
    five: a broadcast to a thousand sockets, whose objects no cache keeps between two
    messages, misses fewer lines per socket (in process with real sockets, 1,000
    subscribers: about 10% less user time per delivery)."""

    __slots__ = (
        "_backlog",
        "_backlog_size",
        "_batch",
        "_batch_size",
        "_batch_waiter",
        "_batching",
        "_compressor",
        "_flushed",
        "_handler_type",
        "_room",
        "_solo",
        "_thread",
        "_transport",
        "_write_limit",
        "lifecycle",
    )


class ServerConnection(_WriteFields):
    """The ``ws_connection`` of a :class:`~tornado_ws_compat.websocket.WebSocketHandler`.

    Method names follow Tornado's ``WebSocketProtocol13``.
    """

    __slots__ = (
        "_close_timer",
        "_closed",
        "_compressed",
        "_flush_waiter",
        "_inbox",
        "_loop",
        "_max_write_buffer",
        "_peer_eof",
        "_pending_pong",
        "_pinger",
        "_protocol",
        "_selected_subprotocol",
        "_stall_growth",
        "_stall_mark",
        "_stall_timer",
        "_stall_written",
        "_write_stall_timeout",
        "close_code",
        "close_reason",
        "context",
        "direct",
        "ended",
        "handler",
        "held",
        "params",
        "parser",
        "reader",
        "work",
    )

    def __init__(
        self,
        handler: WebSocketHandler,
        protocol: BaseProtocol,
        transport: asyncio.Transport,
        params: WebSocketParams,
        agreement: DeflateAgreement | None,
        selected_subprotocol: str | None,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        write_stall_timeout: float = DEFAULT_WRITE_STALL_TIMEOUT,
    ) -> None:
        self.handler = handler
        self._handler_type = type(handler)
        self.params = params
        self.lifecycle = Lifecycle()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        # The context the connection's tasks run in, when the handshake set context
        # variables (set by the engine; None: each task gets a copy, as create_task gives).
        self.context: contextvars.Context | None = None
        self.held = True
        # Set by FrameGuard for each read: True when its messages may be delivered with no
        # bookkeeping (not held, uncompressed, the read too small to reach Tornado's yield
        # threshold); a hook that returns an awaitable clears it.
        self.direct = False
        self._peer_eof = False
        self.work = 0  # cost of what this read delivered so far (see _YIELD_THRESHOLD)
        self._protocol = protocol
        self._transport = transport
        self._loop = protocol._loop  # get_running_loop() is a getpid() system call on 3.11
        self._thread = _thread_ident()  # the loop's (write_message from others is handed over)
        self._selected_subprotocol = selected_subprotocol
        self._max_write_buffer = max_write_buffer
        self._write_stall_timeout = write_stall_timeout
        self._stall_timer: asyncio.TimerHandle | None = None  # set while throttled
        self._stall_mark = 0  # bytes pending at the last stall check (or the throttle)
        self._stall_written = 0  # bytes written since then
        self._stall_growth = 0  # stall checks in a row at which more was pending than before
        self._write_limit = max_write_buffer  # -1 while throttled
        self._compressed = agreement is not None
        self._compressor = (
            _Compressor(agreement, params.compression_options or {}) if agreement else None
        )
        # aiohttp's reader and its queue, made when first needed (full_reader): the common
        # frames (a whole message in one frame, the close frame) never need them.
        self._inbox: _Inbox | None = None
        self.reader: WebSocketReader | None = None
        self.parser = FrameGuard(None, self, params.max_message_size)
        # ``closed``: made when first asked for (most connections never are), done at once
        # if that is after the end.
        self._closed: asyncio.Future[None] | None = None
        self.ended = False  # the socket is gone and on_close has run
        # What write_message returns when the data left at once: awaiting a done future
        # does not consume it, so one per connection serves every such write.
        self._flushed: asyncio.Future[None] | None = None  # created by the first write
        self._flush_waiter: asyncio.Future[None] | None = None
        # Frames written while one read is being handled go out together (see batch_writes).
        self._batching = False
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._batch_waiter: asyncio.Future[None] | None = None
        self._room = 0  # bytes the batch may take while held (see _hold_batch)
        self._solo = 0  # frames still to write directly while others are held (_WriteScope)
        self._pending_pong: bytes | None = None
        # Frames written while the transport still holds unsent bytes wait here and go to it
        # together once it has drained: CPython 3.12/3.13's selector transport sums its
        # whole buffer on every write (get_write_buffer_size), so handing it frame after
        # frame for a peer that does not read costs O(n^2); here each costs an append.
        self._backlog: list[bytes] = []
        self._backlog_size = 0
        self._close_timer: asyncio.TimerHandle | None = None
        # Every byte left in the socket buffer pauses writing, so that resume_writing
        # means "all flushed": the signal write_message's future resolves on.
        transport.set_write_buffer_limits(high=0)
        self.lifecycle.opened()
        # Tornado starts pinging right after the 101, before open() runs; on a missing pong
        # it closes with the default code and "ping timed out" (Tornado 6.5+).
        self._pinger = (
            NO_PINGS
            if not params.ping_interval
            else Pinger(
                params.ping_interval,
                params.ping_timeout,
                self._send_ping,
                lambda: self.close(reason="ping timed out"),
            )
        )

    # ---- the handler-facing API (Tornado's WebSocketProtocol names) ----

    @property
    def selected_subprotocol(self) -> str | None:
        return self._selected_subprotocol

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the connection runs on."""
        return self._loop

    @property
    def closed(self) -> asyncio.Future[None]:
        """Resolves once the socket is gone and ``on_close`` has run."""
        closed = self._closed
        if closed is None:
            closed = self._closed = self._loop.create_future()
            if self.ended:
                closed.set_result(None)
        return closed

    def is_closing(self) -> bool:
        return self.lifecycle.is_closing() or self._transport.is_closing()

    @property
    def stream(self) -> _StreamView:
        """What Tornado's ``ws_connection.stream`` offers programs (``closed()``, ...)."""
        return _StreamView(self)

    @property
    def client_terminated(self) -> bool:
        """The peer's close frame arrived or the socket is gone (Tornado 6.6.1's
        ``ws_connection.client_terminated``, which programs' ping timers check)."""
        return self.lifecycle.client_terminated

    @property
    def server_terminated(self) -> bool:
        """Our close frame went out, or never will (``ws_connection.server_terminated``)."""
        return self.lifecycle.server_terminated

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Write one data frame now; the future resolves when the socket buffer is empty.
        A ``dict`` is sent as JSON text, encoded as Tornado encodes it. Called from another
        thread, the call is handed to the loop as ``WebSocketHandler.write_message`` hands
        it (the handler calls this method directly when it does not override its own)."""
        if self._handler_type.write_message is not _HANDLER_WRITE:
            # The handler's class overrides write_message (its method calls this one), or it
            # was patched after the upgrade (a test's mock.patch.object on the class): then
            # handler.write_message still names this method (WebSocketHandler._accept set it
            # on the instance), and must name the class's, as on Tornado.
            handler = self.handler
            if handler.__dict__.pop("write_message", None) is not None:
                # As programs call it (binary is mostly left out): what a mock records.
                if binary:
                    return handler.write_message(message, binary=True)
                return handler.write_message(message)
        # is_closing(), inlined (this runs once per delivery): the lifecycle is OPEN only
        # while neither side has terminated (Lifecycle's invariant). While its frames are
        # held nothing is written to the transport, and nothing but the lifecycle's own
        # transitions closes it meanwhile.
        if self.lifecycle.state is not _OPEN or (
            not self._batching and self._transport.is_closing()
        ):
            raise WebSocketClosedError()
        if _thread_ident() != self._thread:
            written = self.handler._from_thread(self.write_message, message, binary)
            return cast("asyncio.Future[None]", written)
        shared = _SHARED
        if message is shared.message and binary is shared.binary and self._compressor is None:
            # The same immutable message as the last write (a broadcast loop): its frame is
            # already built. Without deflate every socket gets the same bytes.
            frame = shared.frame
            length = shared.size
        else:
            # Tornado: the opcode follows ``binary`` only; str is sent as UTF-8 either way.
            if type(message) is str:
                data = message.encode()
            elif type(message) is bytes:
                data = message
            else:
                return self._write_other(message, binary)
            length = len(data)
            if length < 126 and self._compressor is None:
                frame = (_BINARY_HEADS if binary else _TEXT_HEADS)[length] + data
            elif length > _COPY_LIMIT or self._compressor is not None:
                return self._write_other(data, binary)
            else:
                frame = _PACK_MEDIUM(0x82 if binary else 0x81, 126, length) + data
            shared.message = message
            shared.binary = binary
            shared.frame = frame
            shared.size = length
        if self._batching:
            # _write_framed's batch path, inlined: the replies to a read's messages, the
            # second and later frames of a broadcast.
            batch_size = self._batch_size + length
            scope = _SCOPE
            scope.countdown -= 1
            if batch_size <= self._room and (scope.countdown > 0 or scope.check(self)):
                self._batch.append(frame)
                self._batch_size = batch_size
                return self._batch_waiter  # type: ignore[return-value]  # (see _hold_batch)
        elif not _SCOPE.open or (self._solo and _SCOPE.apart(self)):
            # _write_framed's direct path, inlined (one message in flight): nothing is held
            # (or this connection is set apart) and nothing waits for the socket, so the
            # frame goes to it now. A transport that keeps bytes has paused the protocol
            # (its write-buffer limit is 0, see __init__; uvloop's and asyncio's transports
            # pause it within the write that keeps them, and resume it once empty): the
            # flag says what two calls of get_write_buffer_size would, for less.
            protocol = self._protocol
            if not protocol._paused and not self._backlog_size and length <= self._write_limit:
                self._transport.write(frame)
                if protocol._paused:
                    return self._flush_future()
                flushed = self._flushed  # the socket took it all: done
                return flushed if flushed is not None else self._written()
        else:
            # Another connection's read is being handled and holds what its hooks write:
            # this is the first frame held for this one (a broadcast subscriber). The
            # scope's join, inlined, unless a group begins or the clock is due a reading.
            scope = _SCOPE
            joined = scope.joined
            scope.countdown -= 1
            if len(joined) & 31 and scope.countdown > 0 and scope.fresh:
                room = (
                    self._write_limit
                    - self._transport.get_write_buffer_size()
                    - self._backlog_size
                )
                if length <= room:
                    joined.append(self)
                    self._batching = True
                    self._room = room
                    self._batch.append(frame)
                    self._batch_size = length
                    waiter = self._batch_waiter
                    if waiter is None:
                        waiter = self._batch_waiter = self._loop.create_future()
                    return waiter
        return self._write_framed(frame, length)

    def _hold_batch(self) -> None:
        """Hold what is written from now on (the write scope's ``begin`` and ``join``).
        While held, a connection has the future its batch's writes return (made here, or
        with the first frame where write_message and _write_framed join it themselves;
        only _send_batch, after the hold, lets it go)."""
        self._batching = True
        if self._batch_waiter is None:
            self._batch_waiter = self._loop.create_future()
        # What the batch may take: the socket's buffer and the backlog do not grow while
        # it is held (nothing is written to them), and the limit only drops in _over_limit.
        self._room = (
            self._write_limit - self._transport.get_write_buffer_size() - self._backlog_size
        )

    def _write_other(self, message: Any, binary: bool) -> asyncio.Future[None]:
        """``write_message`` of a large or compressed message, of a ``bytes``-like one, or of
        a ``dict`` (Tornado 6.6.1 sends ``escape.json_encode(message)``)."""
        if isinstance(message, dict):
            return self.write_message(json_encode(message), binary)
        data = message.encode() if isinstance(message, str) else message
        first_byte = 0x80 | (_OP_BINARY if binary else _OP_TEXT)
        if self._compressor is not None:
            data = self._compressor.compress(data)
            first_byte |= _RSV1
        return self._write_frame(first_byte, data)

    def write_ping(self, data: bytes) -> None:
        if len(data) > 125:
            raise ValueError("control frame payloads may not exceed 125 bytes")
        self._write_frame(0x80 | _OP_PING, data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start (or complete) the closing handshake (RFC 6455 section 7.1.2)."""
        action, payload = self.lifecycle.local_close(code, reason)
        self._apply(action, payload)

    def unsent_bytes(self) -> int:
        """Bytes written and not yet taken by the kernel: the transport's buffer, the frames
        held back while it drains, and the frames of the batch being built."""
        return self._transport.get_write_buffer_size() + self._backlog_size + self._batch_size

    def abort(self) -> None:
        """Drop the TCP connection now (Tornado's ``_abort``). Frames already written go to
        the socket first, as Tornado's did; what the kernel has not taken is discarded."""
        self.lifecycle.abort()
        self._cancel_timers()
        self.flush_writes()
        self._transport.abort()

    def abandon(self) -> None:
        """``open`` failed: drop the connection, release it, and do not run ``on_close``."""
        self.lifecycle.forgo_on_close()
        self.held = False  # so that the socket's end finalizes at once
        self.abort()
        inbox = self._inbox
        if inbox is not None and inbox.is_eof():
            # The socket ended while open() ran (open then failed writing to it): that end
            # waits in the queue behind open(), which nothing drains now.
            self.finalize()

    def set_nodelay(self, value: bool) -> None:
        set_nodelay(self._transport, value)

    def full_reader(self) -> WebSocketReader:
        """aiohttp's reader for this connection, and its queue (made once)."""
        if self.reader is None:
            inbox = self._inbox = _Inbox(self._protocol, _INBOX_LIMIT, loop=self._loop)
            inbox.connection = self
            # One more than the limit: Tornado accepts a message of exactly max_message_size,
            # aiohttp's reader refuses sizes >= its limit (checked on the frame header,
            # before any payload is buffered).
            self.reader = WebSocketReader(
                inbox,
                self.params.max_message_size + 1,
                compress=self._compressed,
                decode_text=True,
            )
        return self.reader

    def run(self) -> None:
        """Start delivering messages (those that came during ``open`` first)."""
        inbox = self._inbox
        if inbox is not None and (inbox._buffer or inbox.is_eof()):
            self._spawn(self._drain())
        else:
            self.held = False
            if self._peer_eof:  # the peer half-closed during open: close now
                self.peer_eof()

    # ---- inbound: called by _Inbox from the transport's data_received ----

    def hold_for(self, awaitable: Any) -> None:
        """A hook returned an awaitable: later messages wait in the reader's queue until it
        is done (Tornado: one ``on_message`` at a time)."""
        self.held = True
        self.direct = False
        self._spawn(self._finish_hook(awaitable))

    def _deliver(self, message: Any) -> Any:
        """Run the hook for one message; return its awaitable if the next must wait for it.

        Tornado awaits coroutine ``on_message`` and ``on_pong`` before reading on; a
        coroutine ``on_ping`` runs on its own.
        """
        kind = message[0]
        if kind is _TEXT or kind is _BINARY:
            if self.lifecycle.client_terminated:
                return None  # after the peer's close frame or an abort, nothing is delivered
            data = message[1]
            if self._compressed and len(data) > self.params.max_message_size:
                self.fail(ReaderError(1009, _TOO_BIG_INFLATED))
                return None
            try:
                return self.handler.on_message(data)
            except (Exception, asyncio.CancelledError):
                self._hook_failed()
                return None
        if kind is _PING:
            data = bytes(message[1])  # aiohttp hands control payloads over as bytearray
            self._send_pong(data)
            try:
                result = self.handler.on_ping(data)
            except (Exception, asyncio.CancelledError):
                self._hook_failed()
                return None
            if result is not None:
                self._spawn(self._guard(result))
            return None
        if kind is _PONG:
            self._pinger.pong_received()
            try:
                return self.handler.on_pong(bytes(message[1]))
            except (Exception, asyncio.CancelledError):
                self._hook_failed()
                return None
        if kind is _CLOSE:
            self._peer_closed(message[1], message[2])
        return None

    def fail(self, exc: BaseException) -> None:
        """The reader found a protocol violation: close with its code and drop the socket.

        RFC 6455 section 7.1.7 ("Fail the WebSocket Connection"); Tornado sends 1009 for
        oversized messages the same way (close frame, then abort).
        """
        code = exc.code if isinstance(exc, ReaderError) else 1002
        gen_log.debug("WebSocket protocol error from %s: %s", self._peer(), exc)
        if not self.lifecycle.server_terminated and not self._transport.is_closing():
            self.lifecycle.server_terminated = True
            reason = None
            if code == 1009:  # Tornado's reasons for its two size checks
                inflated = "Decompressed" in str(exc) or str(exc) == _TOO_BIG_INFLATED
                reason = _TOO_BIG_INFLATED if inflated else "message too big"
            payload = struct.pack("!H", code) + (reason.encode() if reason else b"")
            self._write_control(0x80 | _OP_CLOSE, payload)
        self.lifecycle.abort()
        self._drop()

    def peer_eof(self) -> None:
        """The peer will send nothing more: answer what it sent, then close (no close frame
        came, so on_close sees close_code None, as Tornado reports a dropped stream)."""
        self._peer_eof = True
        if not self.held:
            self.lifecycle.abort()
            self._drop()

    def protocol_violation(self, exc: ReaderError) -> None:
        """A frame the reader would accept breaks RFC 6455: fail after earlier messages."""
        self.full_reader()
        assert self._inbox is not None
        self._inbox.set_exception(exc)

    def finalize(self) -> None:
        """The socket is gone: run ``on_close`` once and release everything."""
        self._cancel_timers()
        for waiter in (self._flush_waiter, self._batch_waiter):
            if waiter is not None:
                _fail_quietly(waiter)
        self._batch.clear()
        self._batch_size = 0
        if self.lifecycle.connection_lost():
            try:
                self.handler.on_ws_connection_close(self.close_code, self.close_reason)
            except Exception:
                self.handler.log_exception(*sys.exc_info())
        self.ended = True
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(None)
        # Break the cycles between the connection and its parts (Tornado's _break_cycles),
        # so that a closed connection's memory (frame buffers, zlib streams) returns now
        # rather than at the next full garbage collection.
        self._pinger.close()
        if self._inbox is not None:
            self._inbox.connection = None  # type: ignore[assignment]
        self.parser.detach()
        self._compressor = None

    # ---- internals ----

    def _peer(self) -> str:
        return str(self.handler.request.remote_ip)

    def _peer_closed(self, code: int, reason: str) -> None:
        if code and not is_valid_close_code(code):
            # RFC 6455 section 7.4: 1004-1006, 1015 and codes outside the registered
            # ranges never appear on the wire; aiohttp lets some through.
            self.fail(ReaderError(1002, f"invalid close code {code}"))
            return
        # aiohttp reports an empty close payload as code 0; Tornado exposes None then.
        # Tornado sets close_reason only when the payload goes beyond the code.
        peer_code = code or None
        peer_reason = reason or None
        self.close_code, self.close_reason = peer_code, peer_reason
        action, payload = self.lifecycle.peer_close(peer_code, peer_reason)
        self._apply(action, payload)

    def _apply(self, action: int, payload: bytes) -> None:
        if action & CloseAction.SEND_CLOSE and not self._transport.is_closing():
            self._write_control(0x80 | _OP_CLOSE, payload)
        if action & CloseAction.DROP:
            self._drop()
        elif action & CloseAction.WAIT_FOR_PEER and self._close_timer is None:
            self._close_timer = self._loop.call_later(self.params.close_timeout, self.abort)
        if action:
            self._pinger.cancel()

    def _drop(self) -> None:
        """Close TCP once the frames already written are flushed; abort if that stalls."""
        self._cancel_timers()
        self.flush_writes()
        if self._backlog:
            self._release_backlog()  # close() sends what the transport holds, then closes
        transport = self._transport
        transport.close()
        closed = self._closed
        if transport.get_write_buffer_size() and not (
            self.ended or (closed is not None and closed.done())
        ):
            # Only a peer that does not read can keep the close waiting for a flush.
            self._close_timer = self._loop.call_later(self.params.close_timeout, transport.abort)

    def _cancel_timers(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._pinger.cancel()

    # ---- write-buffer policy: throttle a slow reader, drop one that stopped ----

    def _over_limit(self, pending: int, length: int) -> None:
        """More than ``max_write_buffer`` bytes wait for the peer: read nothing more from it
        (so that replies to its messages stop piling up) until all of it is flushed. The
        write itself is kept: a peer that reads, however slowly, is never dropped for it."""
        if self._stall_timer is not None:
            self._stall_written += length  # throttled already: count what is added
            return
        if self._transport.is_closing():
            return
        self._write_limit = -1  # every write until the flush comes here, to be counted
        self._room = -1
        self._stall_mark = pending
        self._stall_written = 0
        self._stall_growth = 0
        self._stall_timer = self._loop.call_later(self._write_stall_timeout, self._check_stall)
        self._protocol._pause_reading_for_buffer()
        self._flush_future().add_done_callback(self._unthrottle)

    def _unthrottle(self, flushed: asyncio.Future[None]) -> None:
        self._write_limit = self._max_write_buffer
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if (
            not flushed.cancelled()
            and flushed.exception() is None
            and not self._transport.is_closing()
        ):
            self._protocol._resume_reading_for_buffer()

    def _check_stall(self) -> None:
        """Drop the peer if it has read nothing (what waits for it shrank by nothing but what
        was added) for ``write_stall_timeout``."""
        self._stall_timer = None
        transport = self._transport
        if transport.is_closing():
            return
        pending = self.unsent_bytes()
        if pending < self._stall_mark + self._stall_written:  # the peer read some
            # It reads; but if more waits for it than at the last check, twice in a row, it
            # reads more slowly than it is written to (a broadcast outpacing it) and its
            # buffer would grow without bound. A one-off burst grows in one window at most.
            self._stall_growth = self._stall_growth + 1 if pending > self._stall_mark else 0
            if self._stall_growth < 2:
                self._stall_mark = pending
                self._stall_written = 0
                self._stall_timer = self._loop.call_later(
                    self._write_stall_timeout, self._check_stall
                )
                return
            gen_log.warning(
                "WebSocket to %s: %d bytes pending and growing for %g s (it reads more slowly "
                "than it is written to); closing the connection",
                self._peer(),
                pending,
                2 * self._write_stall_timeout,
            )
            self.abort()
            return
        gen_log.warning(
            "WebSocket to %s: %d bytes pending, none read in %g s; closing the connection",
            self._peer(),
            pending,
            self._write_stall_timeout,
        )
        self.abort()

    def batch_writes(self) -> None:
        """Hold frames written from now on until ``flush_writes``: the replies to all the
        messages of one read go to the socket in one system call instead of one each.
        FrameGuard asks for it only when a read holds two frames or more.

        Frames its hooks write to other connections are held too (the scope, which also
        bounds how long anything is held), so that a broadcast of the messages of one read
        costs each receiver one system call per millisecond of hooks' time."""
        if _SCOPE.owner is None:
            _SCOPE.begin(self)

    def flush_writes(self) -> None:
        """Write the held frames; their futures resolve once the socket buffer is empty.
        Called by the read that opened the scope, it sends every connection's."""
        if _SCOPE.owner is self:
            _SCOPE.close()  # this connection's own frames too: it joined with the first
        elif self._batching:
            self.release_batch()

    def release_batch(self) -> None:
        """Write this connection's held frames; what it writes next is held anew, or not."""
        self._batching = False
        if self._batch:
            self._send_batch()

    def _send_batch(self) -> None:
        batch = self._batch
        waiter = self._batch_waiter
        if waiter is not None:
            if _getrefcount(waiter) <= _UNSEEN and not waiter._callbacks:
                # Nobody holds the future that write_message returned for these frames, and
                # no callback waits on it: whether it resolves cannot be observed. It stays
                # pending and serves the next batch (a broadcast's writes create no future).
                waiter = None
            else:
                self._batch_waiter = None
        transport = self._transport
        if transport.is_closing():
            batch.clear()
            self._batch_size = 0
            if waiter is not None:
                _fail_quietly(waiter)
            return
        if self._backlog or transport.get_write_buffer_size():
            self._backlog += batch
            self._backlog_size += self._batch_size
        elif len(batch) == 1:
            transport.write(batch[0])
        elif self._batch_size <= _JOIN_LIMIT:
            transport.write(b"".join(batch))
        else:
            self._write_lines(batch)
        batch.clear()
        self._batch_size = 0
        if waiter is None:
            if self._backlog:
                self._flush_future()  # something must hand the backlog over
            return
        if not self._backlog and not transport.get_write_buffer_size():
            waiter.set_result(None)
        elif self._flush_waiter is None or self._flush_waiter.done():
            self._flush_waiter = waiter  # resolved (or failed) when the buffer drains
            self._spawn(self._wait_flushed(waiter))
        else:
            self._flush_waiter.add_done_callback(lambda done: _copy_outcome(done, waiter))

    def _write_lines(self, frames: list[bytes]) -> None:
        transport = self._transport
        transport.writelines(frames)  # uvloop sends these with one writev, no join
        if transport.get_write_buffer_size():
            # CPython 3.12.0-3.12.x and 3.13.0's selector writelines() leaves bytes
            # buffered without pausing the protocol, so resume_writing (what flush
            # futures wait for) would never come: setting the limits again makes any
            # transport compare its buffer with them and pause (public API).
            transport.set_write_buffer_limits(high=0)

    def _hold(self, data: bytes) -> asyncio.Future[None]:
        """Keep ``data`` in the backlog (the transport still holds bytes)."""
        self._backlog.append(data)
        self._backlog_size += len(data)
        return self._flush_future()

    def _release_backlog(self) -> None:
        """Hand the backlog to the transport (its buffer has drained): one write."""
        backlog = self._backlog
        self._backlog = []
        self._backlog_size = 0
        if self._transport.is_closing():
            return
        if len(backlog) <= 4:  # a large frame is a header and its payload: no copy
            self._write_lines(backlog)
        else:
            self._transport.write(b"".join(backlog))

    def _write_framed(self, frame: bytes, length: int) -> asyncio.Future[None]:
        """Write a whole small frame (header and payload built already)."""
        transport = self._transport
        unsent = transport.get_write_buffer_size() + self._backlog_size
        if unsent + self._batch_size + length > self._write_limit:
            return self._write_frame(frame[0], frame[-length:] if length else b"")
        scope = _SCOPE
        if self._batching:
            if scope.countdown <= 0 and not scope.check(self):
                return self._write_framed(frame, length)  # the check sent the batch
        elif scope.open and not self._solo:
            scope.join(self)
        if not self._batching:
            if unsent:
                return self._hold(frame)
            transport.write(frame)
            if transport.get_write_buffer_size():
                return self._flush_future()
            flushed = self._flushed  # the socket took it all: done
            return flushed if flushed is not None else self._written()
        self._batch.append(frame)
        self._batch_size += length
        waiter = self._batch_waiter
        if waiter is None:
            waiter = self._batch_waiter = self._loop.create_future()
        return waiter

    def _write_frame(self, first_byte: int, data: bytes) -> asyncio.Future[None]:
        scope = _SCOPE
        if self._batching:
            scope.countdown -= 1
            if scope.countdown <= 0:
                scope.check()  # may send this connection's batch
        transport = self._transport
        length = len(data)
        unsent = transport.get_write_buffer_size() + self._backlog_size
        pending = unsent + self._batch_size + length
        if pending > self._write_limit:  # past max_write_buffer, or throttled already
            self._over_limit(pending, length)
        if not self._batching and scope.open:
            scope.join(self)
        if self._batching:
            batch = self._batch
            if length > _COPY_LIMIT:
                batch.append(_frame_header(first_byte, length))
                batch.append(data)
            else:
                batch.append(_frame_header(first_byte, length) + data)
            self._batch_size += length
            waiter = self._batch_waiter
            if waiter is None:
                waiter = self._batch_waiter = self._loop.create_future()
            return waiter
        if unsent:
            if length > _COPY_LIMIT:
                self._hold(_frame_header(first_byte, length))
                return self._hold(data)
            return self._hold(_frame_header(first_byte, length) + data)
        if length > _COPY_LIMIT:
            transport.write(_frame_header(first_byte, length))
            transport.write(data)
        else:
            transport.write(_frame_header(first_byte, length) + data)
        return self._written()

    def _written(self) -> asyncio.Future[None]:
        """The future of a frame just handed to the transport: done if the socket took it."""
        if not self._transport.get_write_buffer_size():
            flushed = self._flushed
            if flushed is None:
                flushed = self._flushed = self._loop.create_future()
                flushed.set_result(None)
            return flushed
        return self._flush_future()

    def _write_control(self, first_byte: int, payload: bytes) -> None:
        try:
            self._write_frame(first_byte, payload)
        except WebSocketClosedError:
            pass

    def _flush_future(self) -> asyncio.Future[None]:
        waiter = self._flush_waiter
        if waiter is None or waiter.done():
            waiter = self._flush_waiter = self._loop.create_future()
            self._spawn(self._wait_flushed(waiter))
        return waiter

    async def _wait_flushed(self, waiter: asyncio.Future[None]) -> None:
        transport = self._transport
        protocol = self._protocol
        try:
            # "Flushed" means the backlog and the transport's buffer are empty, whatever
            # woke the drain.
            while True:
                if transport.get_write_buffer_size():
                    if not protocol.writing_paused:
                        transport.set_write_buffer_limits(high=0)  # pauses: size > 0
                        if not protocol.writing_paused:
                            raise ConnectionResetError("the transport does not pause writing")
                    await protocol._drain_helper()
                elif self._backlog and not transport.is_closing():
                    self._release_backlog()
                else:
                    break
        except (ConnectionError, RuntimeError):
            self._backlog = []
            self._backlog_size = 0
            _fail_quietly(waiter)
            return
        if self._backlog:  # the transport closed before it was handed over
            self._backlog = []
            self._backlog_size = 0
            _fail_quietly(waiter)
            return
        if not waiter.done():
            waiter.set_result(None)
        if self._pending_pong is not None:
            data, self._pending_pong = self._pending_pong, None
            self._send_pong(data)

    def _send_pong(self, data: bytes) -> None:
        # RFC 6455 section 5.5.3: when pongs are not being read, answering only the most
        # recent ping is allowed; so one pong waits at most while the buffer drains.
        if self.lifecycle.server_terminated or self._transport.is_closing():
            return
        if self._backlog or self._transport.get_write_buffer_size():
            self._pending_pong = data
            self._flush_future()
            return
        self._write_control(0x80 | _OP_PONG, data)

    def _send_ping(self) -> bool:
        if self.is_closing():
            return False
        self._write_control(0x80 | _OP_PING, b"")
        return True

    def _hook_failed(self) -> None:
        # Tornado's _run_callback: log through the handler, then abort the connection.
        self.handler.log_exception(*sys.exc_info())
        self.abort()

    def _spawn(self, coroutine: Any) -> None:
        task = self._loop.create_task(coroutine, context=self.context)
        _BACKGROUND.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(_BACKGROUND.discard)

    async def _guard(self, awaitable: Any) -> None:
        try:
            await awaitable
        except (Exception, asyncio.CancelledError):
            self._hook_failed()

    async def _finish_hook(self, awaitable: Any) -> None:
        await self._guard(awaitable)
        await self._drain()

    def drain_soon(self) -> None:
        """Deliver what is held after one turn of the event loop."""
        self._spawn(self._yield_then_drain())

    async def _yield_then_drain(self) -> None:
        await asyncio.sleep(0)
        await self._drain()

    async def _drain(self) -> None:
        """Deliver held messages in order, then let new ones through directly."""
        inbox = self._inbox
        work = 0
        while True:
            if inbox is None or (not inbox._buffer and not inbox.is_eof()):
                self.held = False
                if self._peer_eof:
                    self.peer_eof()
                return
            try:
                message = await inbox.read()
            except EofStream:
                self.finalize()
                return
            except Exception as exc:
                # The reader failed: nothing more will be parsed; the socket's end (which
                # fail() brings about) finalizes the connection directly.
                self.held = False
                self.fail(exc)
                return
            result = self._deliver(message)
            if result is not None:
                await self._guard(result)
            payload = message[1]
            work += _FRAME_YIELD_COST + (len(payload) if isinstance(payload, str | bytes) else 0)
            if work >= _YIELD_THRESHOLD:
                work = 0
                await asyncio.sleep(0)


class _Gap:
    """Stands in for a connection in the write scope's queue, to close a group of joins
    early (see _WriteScope.join): sending reads a queued connection's ``_batching`` and
    ``_batch`` first, and a gap has nothing held."""

    __slots__ = ("_batch", "_batching")

    def __init__(self) -> None:
        self._batching = False
        self._batch: list[bytes] = []


# By the joins a group already has, the gaps that close it.
_GAPS: Final = tuple([cast("ServerConnection", _Gap())] * (-joins & 31) for joins in range(32))
