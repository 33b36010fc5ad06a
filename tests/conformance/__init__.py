"""RFC 6455 / RFC 7692 conformance suite, numbered like the Autobahn test suite's categories.

Every case drives a live server (``conftest.serve``) over a raw socket (``conftest.RawWebSocket``)
so that malformed input reaches the server exactly as written. The helpers live in
``conftest.py``; test modules import them as ``conformance.conftest``.
"""
