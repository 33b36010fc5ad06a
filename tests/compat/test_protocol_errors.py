"""Differential tests of frames at the edges of RFC 6455: what the client sees, and the hooks run.

Same harness as ``test_handshake.py``. The violations where tornado_ws_compat deliberately
follows the RFC and Tornado 6.6.1 does not (a close frame before dropping TCP, reserved close
codes, bad close payloads, unmasked frames, RSV1 on a control frame with permessage-deflate,
compressed data that does not inflate) are in ``test_intentional_differences.py``; the cases
here must be identical.
"""

from __future__ import annotations

import struct

import pytest

from ._harness import EOF, OP_CLOSE, STILL_OPEN, Differ, RawClient, violation


def _length_64_bit_msb_set(client: RawClient) -> None:
    """A 64-bit length with the most significant bit set (RFC 6455 5.2: it MUST be 0)."""
    client.writer.write(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 1 << 63) + bytes(4))


def _non_minimal_length(client: RawClient) -> None:
    """A 5-byte payload announced with the 16-bit length form (not the minimal encoding)."""
    client.writer.write(bytes([0x81, 0x80 | 126]) + struct.pack("!H", 5) + bytes(4) + b"hello")


CASES = {
    "length-64-bit-msb-set": _length_64_bit_msb_set,
    "non-minimal-length": _non_minimal_length,
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_protocol_violation(diff: Differ, case: str) -> None:
    """Frames both treat alike: a 64-bit length with the top bit set is "message too big"
    (close 1009, then TCP close) in both, and a non-minimal length encoding is accepted."""
    reference = await diff.compare(violation(CASES[case]))
    assert reference.client[-1] in (EOF, STILL_OPEN)


#: Close codes both accept, at the edges of the ranges RFC 6455 section 7.4 defines.
ACCEPTED_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                        3000, 3999, 4000, 4999]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize("code", ACCEPTED_CLOSE_CODES)
async def test_close_code_accepted_and_echoed(diff: Differ, code: int) -> None:
    """A registered or application close code reaches on_close and is echoed (no reason)."""

    def send(client: RawClient) -> None:
        client.send_frame(OP_CLOSE, struct.pack("!H", code) + b"why")

    reference = await diff.compare(violation(send))
    assert reference.client == [("close", code, None), EOF]
    assert reference.server[-1] == ("on_close", code, "why")
