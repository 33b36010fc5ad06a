"""Run Tornado WebSocket handlers unchanged on asyncio, with aiohttp as the engine.

Change ``from tornado import websocket, web, ioloop`` to
``from tornado_ws_compat import websocket, web, ioloop``; the handler classes stay as they are.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
