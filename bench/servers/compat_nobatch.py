"""``compat_echo.py`` with the write batching switched off: the A/B of batching alone.

The engine's write scope never opens (``_WriteScope.begin``, called for a read that holds two
frames or more, becomes a no-op), so every frame goes to the socket when it is written, as in
Tornado; everything else is ``compat_echo.py`` unchanged (the frame guard still reads the clock
between the hooks of one read, as it does for the scope: some 40 ns a message, which only
makes "off" look a little dearer at 8 and 64 in flight; at 1 in flight nothing differs).
Prints ``READY <port> loop=<module>`` as the others.
"""

import runpy
from pathlib import Path

from tornado_ws_compat._engine.connection import _WriteScope


def no_batching(self, owner):
    pass


_WriteScope.begin = no_batching
runpy.run_path(str(Path(__file__).with_name("compat_echo.py")), run_name="__main__")
