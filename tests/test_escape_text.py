"""``linkify`` and ``squeeze`` (the template namespace's text helpers) against Tornado 6.6.1."""

from __future__ import annotations

import re
from typing import Any

import pytest
import tornado.escape as real
from hypothesis import given, settings
from hypothesis import strategies as st

from tornado_ws_compat import escape as ours

URLISH = st.lists(
    st.sampled_from(
        [
            "http://",
            "https://",
            "ftp://",
            "www.",
            "example.com",
            "/path/",
            "a_very_long_segment_name",
            "?q=1",
            "&amp;",
            "&",
            "(",
            ")",
            ".",
            " ",
            "\n",
            "<",
            '"',
            "'",
            "é",
            "mailto:x@y.z",
            "!",
            "#frag",
        ]
    ),
    max_size=12,
).map("".join)

OPTIONS: list[dict[str, Any]] = [
    {},
    {"shorten": True},
    {"require_protocol": True},
    {"extra_params": ' rel="nofollow" '},
    {"extra_params": lambda url: 'class="ext"' if "example" in url else ""},
    {"permitted_protocols": ["http", "ftp", "mailto"]},
    {"shorten": True, "extra_params": "x=1"},
]


@settings(max_examples=300, deadline=None)
@given(text=URLISH, option=st.sampled_from(OPTIONS))
def test_linkify_matches_tornado(text: str, option: dict[str, Any]) -> None:
    assert ours.linkify(text, **option) == real.linkify(text, **option)


@pytest.mark.parametrize(
    "text",
    [
        "see http://www.example.com/some/really/long/path/name.html?x=1&y=2 now",
        "https://example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "http://example.com/a&amp;b&amp;c&amp;d&amp;e&amp;f&amp;g&amp;h",
        "www.exampleexampleexampleexample.com/x/y",
        b"bytes http://x.org",
    ],
)
def test_linkify_shorten_cases(text: str | bytes) -> None:
    assert ours.linkify(text, shorten=True) == real.linkify(text, shorten=True)


@given(st.text(alphabet=st.sampled_from(" \t\n\r\x00\x1f\x20\x21a\u00a0é"), max_size=30))
def test_squeeze_matches_tornado(text: str) -> None:
    assert ours.squeeze(text) == real.squeeze(text)


@pytest.mark.parametrize("value", ["<&>\"'", b"<b>", "plain", "é"])
def test_xhtml_escape_matches_tornado(value: str | bytes) -> None:
    assert ours.xhtml_escape(value) == real.xhtml_escape(value)


@pytest.mark.parametrize("value", [5, None, 1.5])
def test_escape_errors_match_tornado(value: Any) -> None:
    for function in ("xhtml_escape", "url_escape"):
        with pytest.raises(Exception) as expected:
            getattr(real, function)(value)
        with pytest.raises(type(expected.value), match="^" + re.escape(str(expected.value)) + "$"):
            getattr(ours, function)(value)
