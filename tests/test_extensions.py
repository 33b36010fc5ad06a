"""permessage-deflate negotiation (RFC 7692 section 7.1), without sockets."""

from __future__ import annotations

import pytest

from tornado_ws_compat.extensions import negotiate_deflate, parse_extensions


def test_plain_offer_accepted() -> None:
    agreement = negotiate_deflate("permessage-deflate")
    assert agreement is not None
    assert agreement.response == "permessage-deflate"
    assert agreement.server_max_window_bits == 15
    assert not agreement.server_no_context_takeover


def test_client_max_window_bits_without_value_is_not_echoed() -> None:
    agreement = negotiate_deflate("permessage-deflate; client_max_window_bits")
    assert agreement is not None and agreement.response == "permessage-deflate"


def test_all_parameters_echoed() -> None:
    agreement = negotiate_deflate(
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=12"
    )
    assert agreement is not None
    assert agreement.server_no_context_takeover and agreement.client_no_context_takeover
    assert agreement.server_max_window_bits == 10
    assert agreement.client_max_window_bits == 12
    assert agreement.response == (
        "permessage-deflate; client_max_window_bits=12; client_no_context_takeover;"
        " server_max_window_bits=10; server_no_context_takeover"
    )


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=8",  # zlib cannot honour 8
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "x-webkit-deflate-frame",
    ],
)
def test_invalid_offers_are_declined(offer: str) -> None:
    assert negotiate_deflate(offer) is None


def test_first_acceptable_offer_wins() -> None:
    agreement = negotiate_deflate(
        "foo, permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11"
    )
    assert agreement is not None and agreement.server_max_window_bits == 11


def test_quoted_values_are_unquoted() -> None:
    assert parse_extensions('permessage-deflate; client_max_window_bits="10"') == [
        ("permessage-deflate", [("client_max_window_bits", "10")])
    ]


def test_no_header_no_agreement() -> None:
    assert negotiate_deflate(None) is None
    assert negotiate_deflate("") is None
