"""The engine: the only package that imports aiohttp.

- ``http``: the aiohttp low-level server, requests mapped to handlers, responses back.
- ``connection``: one accepted WebSocket, run with Tornado 6.6.1's semantics on aiohttp's
  C frame reader, with a short synchronous path from frame to ``on_message`` to the socket.
- ``client``: ``websocket_connect`` on aiohttp's client.
"""
