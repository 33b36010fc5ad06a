"""Tornado's ``tornado.auth``: importable, the third-party login mixins not provided.

Handlers that list a mixin among their bases still define and serve their other routes; a
call to a mixin's method (``authorize_redirect``, ``get_authenticated_user``...) raises
:class:`~tornado_ws_compat.errors.NotSupportedError` naming it. Use an OAuth library (authlib,
oauthlib) from the handler instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from tornado_ws_compat.errors import NotSupportedError

__all__ = [
    "AuthError",
    "FacebookGraphMixin",
    "GoogleOAuth2Mixin",
    "OAuth2Mixin",
    "OAuthMixin",
    "OpenIdMixin",
    "TwitterMixin",
]


class AuthError(Exception):
    """An authentication failure (``tornado.auth.AuthError``)."""


def _not_provided(name: str) -> Callable[..., NoReturn]:
    def method(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotSupportedError(
            f"tornado.auth.{type(self).__name__}.{name} ({_owner(type(self))}) is not provided "
            "by tornado_ws_compat: use an OAuth library from the handler"
        )

    method.__name__ = name
    method.__doc__ = "Not provided (see :mod:`tornado_ws_compat.auth`)."
    return method


def _owner(cls: type) -> str:
    mixins = [base.__name__ for base in cls.__mro__ if base.__module__ == __name__]
    return mixins[0] if mixins else cls.__name__


class OpenIdMixin:
    """OpenID 2.0 (not provided)."""

    authenticate_redirect = _not_provided("authenticate_redirect")
    get_authenticated_user = _not_provided("get_authenticated_user")
    get_auth_http_client = _not_provided("get_auth_http_client")


class OAuthMixin:
    """OAuth 1.0a (not provided)."""

    authorize_redirect = _not_provided("authorize_redirect")
    get_authenticated_user = _not_provided("get_authenticated_user")
    get_auth_http_client = _not_provided("get_auth_http_client")


class OAuth2Mixin:
    """OAuth 2.0 (not provided)."""

    authorize_redirect = _not_provided("authorize_redirect")
    oauth2_request = _not_provided("oauth2_request")
    get_auth_http_client = _not_provided("get_auth_http_client")


class TwitterMixin(OAuthMixin):
    """Twitter's OAuth (not provided)."""

    authenticate_redirect = _not_provided("authenticate_redirect")
    twitter_request = _not_provided("twitter_request")


class GoogleOAuth2Mixin(OAuth2Mixin):
    """Google's OAuth 2.0 (not provided)."""

    get_authenticated_user = _not_provided("get_authenticated_user")
    get_google_oauth_settings = _not_provided("get_google_oauth_settings")


class FacebookGraphMixin(OAuth2Mixin):
    """Facebook's Graph API login (not provided)."""

    get_authenticated_user = _not_provided("get_authenticated_user")
    facebook_request = _not_provided("facebook_request")
