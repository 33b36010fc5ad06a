"""Legacy handlers inside an aiohttp application: Tornado-style routes as an aiohttp resource.

A team moving to aiohttp keeps its old sockets and pages beside new aiohttp views in one
server. The resource answers only the paths (and hosts) that the Tornado-style Application's
routes match, with this project's engine, exactly as ``Application.listen`` would; every other
request goes on through aiohttp's router (its views, then its 404). aiohttp routes registered
for the same paths win, whatever the order of registration, since aiohttp tries the most
specific path prefix first and this resource sits at the root.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import Resource, UrlMappingMatchInfo, _InfoDict
from yarl import URL

from tornado_ws_compat._engine.http import EngineServer
from tornado_ws_compat.errors import HTTPError
from tornado_ws_compat.httputil import HTTPHeaders, HTTPServerRequest

if TYPE_CHECKING:
    from tornado_ws_compat.web import Application

__all__ = ["TornadoRoutes"]


class TornadoRoutes(Resource):
    """An aiohttp resource that hands the requests its Application routes to the engine."""

    def __init__(self, application: Application, **server_options: Any) -> None:
        super().__init__(name=None)
        self.application = application
        self.engine = EngineServer(application, **server_options)
        self.add_route(hdrs.METH_ANY, self.engine.handle)

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> URL:
        return URL.build(path="/")

    def add_prefix(self, prefix: str) -> None:
        raise ValueError("mount Tornado-style routes at the application's root")

    def get_info(self) -> _InfoDict:
        return {"prefix": "/"}

    def raw_match(self, path: str) -> bool:
        return False

    def _match(self, path: str) -> dict[str, str] | None:
        return None  # resolve() matches on the whole request (host and raw path)

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        try:
            probe = HTTPServerRequest(
                method=request.method,
                uri=request.raw_path,
                headers=HTTPHeaders({"Host": request.headers.get(hdrs.HOST, "")}),
            )
        except HTTPError:  # a Host value Tornado refuses: left to the aiohttp app's routes
            return None, set()
        if self.application.find_route(probe) is None:
            return None, set()
        route = self._any_route
        assert route is not None
        return UrlMappingMatchInfo({}, route), self._allowed_methods


def mount(
    aiohttp_app: web.Application,
    application: Application | Iterable[Any],
    shutdown_timeout: float = 5.0,
    **server_options: Any,
) -> TornadoRoutes:
    """Register ``application``'s routes on ``aiohttp_app`` (see ``server.mount_in_aiohttp``)."""
    from tornado_ws_compat.web import Application

    if not isinstance(application, Application):
        application = Application(list(application))
    resource = TornadoRoutes(application, **server_options)
    aiohttp_app.router.register_resource(resource)

    async def shut_down(_app: web.Application) -> None:
        # Close the legacy WebSockets with 1001 and on_close, as a standalone server does.
        await resource.engine.shutdown(shutdown_timeout)

    aiohttp_app.on_shutdown.append(shut_down)
    return resource
