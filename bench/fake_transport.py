"""The transport the in-process probes (echo_path.py, broadcast_path.py) put in place of a
connection's socket: it takes every write and its buffer is always empty, so a probe measures
the Python work alone. The hot methods are C builtins, as a real transport's are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
