"""Tornado's ``tornado.platform`` package: only ``platform.asyncio`` is provided."""
