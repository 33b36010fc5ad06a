"""Tornado's ``tornado.routing``: the matchers and ``URLSpec``; custom routers not provided.

``Application`` routes with ``URLSpec`` (and host patterns) itself. The matcher classes are
Tornado's (a request in, the path arguments out); the ``Router`` classes, which plug a custom
dispatcher into Tornado's HTTP server, raise
:class:`~tornado_ws_compat.errors.NotSupportedError` when constructed.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from tornado_ws_compat.errors import NotSupportedError
from tornado_ws_compat.httputil import HTTPServerRequest
from tornado_ws_compat.web import URLSpec, _unquote_group

__all__ = [
    "AnyMatches",
    "HostMatches",
    "Matcher",
    "PathMatches",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "Router",
    "Rule",
    "RuleRouter",
    "URLSpec",
]


def _anchored(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    # Tornado anchors string patterns at the end; compiled ones are used as they are.
    if isinstance(pattern, str):
        return re.compile(pattern if pattern.endswith("$") else pattern + "$")
    return pattern


class Matcher(ABC):
    """Matches a request: ``match`` returns the handler's extra arguments, or None."""

    @abstractmethod
    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """The arguments for the target when ``request`` matches, else None."""

    def reverse(self, *args: Any) -> str | None:
        """The URL for ``args``, when the matcher can build one."""
        return None


class AnyMatches(Matcher):
    """Matches every request."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {}


class HostMatches(Matcher):
    """Matches the request's host (port removed) against a regex, anchored at the end."""

    def __init__(self, host_pattern: str | re.Pattern[str]) -> None:
        self.host_pattern = _anchored(host_pattern)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {} if self.host_pattern.match(request.host_name) else None


class PathMatches(Matcher):
    """Matches the request path against a regex (``$`` appended); groups become arguments.

    As Tornado: named groups give ``path_kwargs``, otherwise unnamed groups give
    ``path_args``; each value is URL-unquoted to bytes.
    """

    def __init__(self, path_pattern: str | re.Pattern[str]) -> None:
        self.regex = _anchored(path_pattern)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        found = self.regex.match(request.path)
        if found is None:
            return None
        if not self.regex.groups:
            return {}
        if self.regex.groupindex:
            kwargs = {str(k): _unquote_group(v) for k, v in found.groupdict().items()}
            return {"path_args": [], "path_kwargs": kwargs}
        return {"path_args": [_unquote_group(g) for g in found.groups()], "path_kwargs": {}}


class Rule:
    """A routing rule: a matcher, a target, its kwargs and an optional name."""

    def __init__(
        self,
        matcher: Matcher,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.matcher = matcher
        self.target = target
        self.target_kwargs = target_kwargs or {}
        self.name = name

    def reverse(self, *args: Any) -> str | None:
        return self.matcher.reverse(*args)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.matcher!r}, {self.target!r}, "
            f"kwargs={self.target_kwargs!r}, name={self.name!r})"
        )


class Router:
    """Not provided: ``Application`` is this project's only router."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(
            f"tornado.routing.{type(self).__name__} is not provided by tornado_ws_compat: "
            "route with Application's URL specs (and add_handlers for host patterns)"
        )


class ReversibleRouter(Router):
    """Not provided (see `Router`)."""


class RuleRouter(Router):
    """Not provided (see `Router`)."""


class ReversibleRuleRouter(ReversibleRouter, RuleRouter):
    """Not provided (see `Router`)."""
