"""tornado_ws_compat.locale against tornado.locale 6.6.1: the same calls, the same results."""

from __future__ import annotations

import datetime
import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tornado.locale as real

from tornado_ws_compat import locale as ours

MODULES = (real, ours)


def reset(module: ModuleType) -> None:
    module._translations = {}
    module._default_locale = "en_US"
    module._supported_locales = frozenset(["en_US"])
    module._use_gettext = False
    module.Locale._cache.clear()


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    for module in MODULES:
        reset(module)
    yield
    for module in MODULES:
        reset(module)


CSV_FILES = {
    "es_LA.csv": (
        '"Hello","Hola"\n'
        '"%(name)s liked this","A %(name)s les gustó esto","plural"\n'
        '"%(name)s liked this","A %(name)s le gustó esto","singular"\n'
        '"January","enero"\n"Monday","lunes"\n'
        '"%(month_name)s %(day)s","%(day)s de %(month_name)s"\n'
        '"%(commas)s and %(last)s","%(commas)s y %(last)s"\n'
        '"only one column"\n'
        '"Bad","Malo","sometimes"\n'
    ),
    "fr.csv": '"Hello","Bonjour"\n',
    "pt_BR.csv": '"Hello","Olá"\n',
    "zh_CN.csv": '"Hello","你好"\n',
    "bad-name.csv": '"Hello","x"\n',
    "notes.txt": "ignored",
}


def write_csv(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    for name, text in CSV_FILES.items():
        (directory / name).write_text(text, encoding="utf-8")


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU gettext catalogue (the .mo format read by the gettext module)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(messages)
    ids = [k.encode() for k in keys]
    strs = [messages[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    offsets: list[int] = []
    data = b""
    for blob in ids + strs:
        offsets += [len(blob), start + len(data)]
        data += blob + b"\0"
    n = len(keys)
    header = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    path.write_bytes(header + struct.pack(f"<{4 * n}I", *offsets) + data)


def write_gettext(directory: Path) -> None:
    header = (
        "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
    )
    write_mo(
        directory / "es" / "LC_MESSAGES" / "app.mo",
        {
            "": header,
            "Hello": "Hola",
            "club\0clubs": "club (es)\0clubs (es)",
            "law\x04right": "derecho",
            "good\x04right": "correcto",
            "organization\x04club\0organization\x04clubs": "club social\0clubes sociales",
        },
    )
    (directory / "de" / "LC_MESSAGES").mkdir(parents=True)
    (directory / "de" / "LC_MESSAGES" / "app.mo").write_bytes(b"not a catalogue")


def both(call: Any) -> tuple[Any, Any]:
    results = []
    for module in MODULES:
        try:
            results.append(("ok", call(module)))
        except Exception as exc:
            results.append(("error", type(exc).__name__, str(exc)))
    return results[0], results[1]


def same(call: Any) -> Any:
    expected, actual = both(call)
    assert actual == expected
    return actual


CODES = [
    (),
    ("es_LA",),
    ("es-la",),
    ("ES_la",),
    ("es",),
    ("es_MX",),
    ("fr_CA", "es"),
    ("de", "pt-br"),
    ("pt",),
    ("en_GB",),
    ("", "zh_CN"),
    ("a_b_c", "fr"),
    ("xx",),
]


@pytest.mark.parametrize("codes", CODES)
def test_get_closest(codes: tuple[str, ...], tmp_path: Path) -> None:
    write_csv(tmp_path / "csv")
    for module in MODULES:
        module.load_translations(str(tmp_path / "csv"))
    same(lambda m: (m.get(*codes).code, m.get(*codes).name, m.get(*codes).rtl))


def test_supported_and_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_csv(tmp_path / "csv")
    with caplog.at_level(logging.DEBUG, logger="tornado.general"):
        for module in MODULES:
            module.load_translations(str(tmp_path / "csv"))
    lines = [r.getMessage().replace(str(tmp_path), "") for r in caplog.records]
    half = len(lines) // 2
    assert lines[:half] == lines[half:] and half >= 3  # unrecognized locale, plural, supported
    same(lambda m: sorted(m.get_supported_locales()))
    same(
        lambda m: (m.set_default_locale("fr"), sorted(m.get_supported_locales()), m.get("xx").code)
    )
    same(lambda m: m.Locale.get("nope"))


PHRASES: list[tuple[Any, ...]] = [
    ("Hello",),
    ("Unknown string",),
    ("%(name)s liked this", "%(name)s liked this", 1),
    ("%(name)s liked this", "%(name)s liked this", 3),
    ("Bad",),
]


@pytest.mark.parametrize("code", ["es_LA", "fr", "en_US", "zh_CN"])
def test_csv_translate_and_format(
    code: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_csv(tmp_path / "csv")
    for module in MODULES:
        module.load_translations(str(tmp_path / "csv"))
    for phrase in PHRASES:
        same(lambda m, phrase=phrase: m.get(code).translate(*phrase))
    same(lambda m: m.get(code).pgettext("ctx", "Hello"))
    if code == "es_LA":
        assert same(lambda m: m.get(code).translate("Hello")) == ("ok", "Hola")
    same(lambda m: [m.get(code).list(p) for p in ([], ["a"], ["a", "b"], ["a", "b", "c"])])
    numbers = [0, 7, 999, 1000, 1234567, -100, -1234, 10**12]
    same(lambda m: [m.get(code).friendly_number(n) for n in numbers])
    day = datetime.datetime(2024, 1, 1, 15, 7)
    same(
        lambda m: [
            m.get(code).format_day(day, gmt_offset=g, dow=d)
            for g in (0, 600)
            for d in (True, False)
        ]
    )
    fixed = datetime.datetime(2020, 1, 6, 0, 5)  # long ago: the absolute forms
    same(
        lambda m: [
            m.get(code).format_date(fixed, gmt_offset=g, relative=r, shorter=s, full_format=f)
            for g in (0, -120, 300)
            for r in (True, False)
            for s in (True, False)
            for f in (True, False)
        ]
    )


@pytest.mark.parametrize(
    "age",
    [
        datetime.timedelta(seconds=5),
        datetime.timedelta(minutes=3),
        datetime.timedelta(hours=5),
        datetime.timedelta(days=1, hours=1),
        datetime.timedelta(days=3),
        datetime.timedelta(days=40),
        datetime.timedelta(days=400),
        -datetime.timedelta(seconds=20),
        -datetime.timedelta(days=2),
    ],
)
@pytest.mark.parametrize("code", ["en_US", "es_LA", "zh_CN"])
def test_relative_dates(age: datetime.timedelta, code: str, tmp_path: Path) -> None:
    # Ages well inside their bucket, so both calls (a few microseconds apart) agree.
    write_csv(tmp_path / "csv")
    for module in MODULES:
        module.load_translations(str(tmp_path / "csv"))
    when = datetime.datetime.now(datetime.UTC) - age
    stamp = when.timestamp()
    same(lambda m: [m.get(code).format_date(when, shorter=s) for s in (True, False)])
    same(lambda m: m.get(code).format_date(stamp))
    same(lambda m: m.get(code).format_date(when.replace(tzinfo=None), gmt_offset=60))


def test_gettext(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_gettext(tmp_path / "mo")
    with caplog.at_level(logging.ERROR, logger="tornado.general"):
        for module in MODULES:
            module.load_gettext_translations(str(tmp_path / "mo"), "app")
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 2 and errors[0] == errors[1]  # the broken "de" catalogue, once each
    same(lambda m: sorted(m.get_supported_locales()))
    same(lambda m: type(m.get("es")).__name__)
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("translate", ("Hello",)),
        ("translate", ("Missing",)),
        ("translate", ("club", "clubs", 1)),
        ("translate", ("club", "clubs", 2)),
        ("pgettext", ("law", "right")),
        ("pgettext", ("good", "right")),
        ("pgettext", ("none", "right")),
        ("pgettext", ("organization", "club", "clubs", 1)),
        ("pgettext", ("organization", "club", "clubs", 5)),
        ("pgettext", ("stick", "club", "clubs", 5)),
    ]
    for name, args in calls:
        same(lambda m, name=name, args=args: getattr(m.get("es"), name)(*args))
    assert same(lambda m: m.get("es").pgettext("law", "right")) == ("ok", "derecho")


def test_utf16_csv(tmp_path: Path) -> None:
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "es.csv").write_bytes('"Hello","¡Hola!"\n'.encode("utf-16"))
    for module in MODULES:
        module.load_translations(str(tmp_path / "csv"))
    assert same(lambda m: m.get("es").translate("Hello")) == ("ok", "¡Hola!")
