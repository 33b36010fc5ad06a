"""permessage-deflate negotiation on the server side (RFC 7692 section 7.1), without I/O.

The server takes the first acceptable offer and declines the rest; an offer it cannot honour
(unknown or repeated parameter, invalid value, a window of 8 bits that zlib cannot produce) is
declined, never answered with an error (RFC 7692 section 5).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeflateAgreement", "negotiate_deflate", "parse_extensions"]

_PARAMS = {
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
}


@dataclass(frozen=True, slots=True)
class DeflateAgreement:
    """What both sides agreed for permessage-deflate, and the header value that says so."""

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    client_max_window_bits: int
    response: str


def parse_extensions(header: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Split a ``Sec-WebSocket-Extensions`` value into ``(name, [(param, value)])`` offers.

    Parameter names are lower-cased; quoted values are unquoted (RFC 6455 section 9.1).
    """
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for item in header.split(","):
        parts = [part.strip() for part in item.split(";")]
        if not parts[0]:
            continue
        params: list[tuple[str, str | None]] = []
        for part in parts[1:]:
            if not part:
                continue
            name, sep, value = part.partition("=")
            text = value.strip() if sep else None
            if text is not None and len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]
            params.append((name.strip().lower(), text))
        offers.append((parts[0].lower(), params))
    return offers


def _window_bits(value: str | None) -> int | None:
    if value is None or not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        return None
    bits = int(value)
    # zlib cannot produce a raw deflate stream with an 8-bit window (it silently uses 9),
    # so an offer that limits the server to 8 bits is declined; 9-15 are honoured.
    return bits if 9 <= bits <= 15 else None


def _accept_offer(params: list[tuple[str, str | None]]) -> DeflateAgreement | None:
    seen: dict[str, str | None] = {}
    for name, value in params:
        if name not in _PARAMS or name in seen:
            return None
        seen[name] = value
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        if flag in seen and seen[flag] is not None:
            return None
    server_bits = 15
    if "server_max_window_bits" in seen:
        bits = _window_bits(seen["server_max_window_bits"])
        if bits is None:
            return None
        server_bits = bits
    client_bits = 15
    if "client_max_window_bits" in seen and seen["client_max_window_bits"] is not None:
        raw = seen["client_max_window_bits"]
        if raw is None or not raw.isdigit() or not 8 <= int(raw) <= 15:
            return None
        client_bits = int(raw)
    answer = ["permessage-deflate"]
    if "client_max_window_bits" in seen and seen["client_max_window_bits"] is not None:
        answer.append(f"client_max_window_bits={client_bits}")
    if "client_no_context_takeover" in seen:
        answer.append("client_no_context_takeover")
    if "server_max_window_bits" in seen:
        answer.append(f"server_max_window_bits={server_bits}")
    if "server_no_context_takeover" in seen:
        answer.append("server_no_context_takeover")
    return DeflateAgreement(
        server_no_context_takeover="server_no_context_takeover" in seen,
        client_no_context_takeover="client_no_context_takeover" in seen,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
        response="; ".join(answer),
    )


def negotiate_deflate(header: str | None) -> DeflateAgreement | None:
    """The agreement for the first acceptable permessage-deflate offer, or None."""
    if not header:
        return None
    for name, params in parse_extensions(header):
        if name != "permessage-deflate":
            continue  # unknown extensions are ignored (RFC 6455 section 9.1)
        agreement = _accept_offer(params)
        if agreement is not None:
            return agreement
    return None
