"""What the in-process probes (echo_path.py, broadcast_path.py) share: the transport they put
in place of a connection's socket (it takes every write and its buffer is always empty, so a
probe measures the Python work alone; the hot methods are C builtins, as a real transport's
are), a client's masked text frame, and the A/B run against another checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

#: The repository root: the probes import this checkout's package from it.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASK = b"\x37\xfa\x21\x3d"


def client_frame(payload: bytes) -> bytes:
    """A client's text frame of ``payload`` (under 126 bytes), masked with ``MASK``."""
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + MASK + masked


def alternate_checkouts(
    script: str, arguments: list[str], baseline: str, repeats: int
) -> dict[str, list[Any]]:
    """Run ``script --json *arguments`` ``repeats`` times under each checkout, alternating
    ("baseline", then "this"), one process each (``PYTHONPATH`` names the checkout); the
    parsed JSON each printed, per label."""
    trees = {"baseline": baseline, "this": ROOT}
    outputs: dict[str, list[Any]] = {label: [] for label in trees}
    for _ in range(repeats):
        for label, tree in trees.items():
            out = subprocess.run(
                [sys.executable, os.path.abspath(script), "--json", *arguments],
                env={**os.environ, "PYTHONPATH": tree},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            outputs[label].append(json.loads(out))
    return outputs


class FakeTransport:
    """``sink`` takes what each ``write``/``writelines`` call is given: ``len`` to drop it,
    ``list.append`` to record one entry per call (one system call on a real socket)."""

    def __init__(self, real: Any, sink: Callable[[Any], object] = len) -> None:
        self.real = real
        self.write = sink
        self.writelines = sink
        self.get_write_buffer_size = int  # int() is 0: the socket took everything
        self.is_closing = bool  # bool() is False

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True
