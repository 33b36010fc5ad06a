"""Translations and locale-aware formatting (``tornado.locale``), as in Tornado 6.6.1.

Translations come from a directory of ``LOCALE.csv`` files (`load_translations`) or of gettext
``.mo`` catalogues (`load_gettext_translations`); they map strings of the default locale
(``en_US`` unless `set_default_locale` says otherwise) to each locale. `get` picks the closest
supported locale for a list of codes (a browser's ``Accept-Language`` order). Without
translations, `Locale.translate` returns its message unchanged. State is process-wide, as in
Tornado.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import gettext
import glob
import os
import re
from collections.abc import Iterable
from typing import Any

from tornado_ws_compat.log import gen_log

__all__ = [
    "CONTEXT_SEPARATOR",
    "CSVLocale",
    "GettextLocale",
    "Locale",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "set_default_locale",
]

#: Joins a gettext context and its message (the convention of GNU gettext's pgettext).
CONTEXT_SEPARATOR = "\x04"

_default_locale = "en_US"
_translations: dict[str, Any] = {}
_supported_locales: frozenset[str] = frozenset([_default_locale])
_use_gettext = False

# Locale code, English name | name in the language itself (Tornado 6.6.1's table).
_NAMES_TABLE = """
af_ZA Afrikaans|Afrikaans
am_ET Amharic|አማርኛ
ar_AR Arabic|العربية
bg_BG Bulgarian|Български
bn_IN Bengali|বাংলা
bs_BA Bosnian|Bosanski
ca_ES Catalan|Català
cs_CZ Czech|Čeština
cy_GB Welsh|Cymraeg
da_DK Danish|Dansk
de_DE German|Deutsch
el_GR Greek|Ελληνικά
en_GB English (UK)|English (UK)
en_US English (US)|English (US)
es_ES Spanish (Spain)|Español (España)
es_LA Spanish|Español
et_EE Estonian|Eesti
eu_ES Basque|Euskara
fa_IR Persian|فارسی
fi_FI Finnish|Suomi
fr_CA French (Canada)|Français (Canada)
fr_FR French|Français
ga_IE Irish|Gaeilge
gl_ES Galician|Galego
he_IL Hebrew|עברית
hi_IN Hindi|हिन्दी
hr_HR Croatian|Hrvatski
hu_HU Hungarian|Magyar
id_ID Indonesian|Bahasa Indonesia
is_IS Icelandic|Íslenska
it_IT Italian|Italiano
ja_JP Japanese|日本語
ko_KR Korean|한국어
lt_LT Lithuanian|Lietuvių
lv_LV Latvian|Latviešu
mk_MK Macedonian|Македонски
ml_IN Malayalam|മലയാളം
ms_MY Malay|Bahasa Melayu
nb_NO Norwegian (bokmal)|Norsk (bokmål)
nl_NL Dutch|Nederlands
nn_NO Norwegian (nynorsk)|Norsk (nynorsk)
pa_IN Punjabi|ਪੰਜਾਬੀ
pl_PL Polish|Polski
pt_BR Portuguese (Brazil)|Português (Brasil)
pt_PT Portuguese (Portugal)|Português (Portugal)
ro_RO Romanian|Română
ru_RU Russian|Русский
sk_SK Slovak|Slovenčina
sl_SI Slovenian|Slovenščina
sq_AL Albanian|Shqip
sr_RS Serbian|Српски
sv_SE Swedish|Svenska
sw_KE Swahili|Kiswahili
ta_IN Tamil|தமிழ்
te_IN Telugu|తెలుగు
th_TH Thai|ภาษาไทย
tl_PH Filipino|Filipino
tr_TR Turkish|Türkçe
uk_UA Ukraini |Українська
vi_VN Vietnamese|Tiếng Việt
zh_CN Chinese (Simplified)|中文(简体)
zh_TW Chinese (Traditional)|中文(繁體)
"""
LOCALE_NAMES: dict[str, dict[str, str]] = {
    code: dict(zip(("name_en", "name"), rest.split("|"), strict=True))
    for code, _, rest in (line.partition(" ") for line in _NAMES_TABLE.strip().splitlines())
}


def get(*locale_codes: str) -> Locale:
    """The closest supported locale to the first of ``locale_codes`` that matches one.

    A code matches exactly (``es_LA``) or by its language (``es``); with no match, the default
    locale.
    """
    return Locale.get_closest(*locale_codes)


def _remember_supported() -> None:
    global _supported_locales
    _supported_locales = frozenset([*_translations, _default_locale])


def set_default_locale(code: str) -> None:
    """Set the locale the application's own strings are written in (``en_US`` by default)."""
    global _default_locale
    _default_locale = code
    _remember_supported()


_LOCALE_FILE_NAME = re.compile(r"[a-z]+(_[A-Z]+)?$")
_PLURAL_KINDS = ("plural", "singular", "unknown")


def load_translations(directory: str, encoding: str | None = None) -> None:
    """Read ``LOCALE.csv`` files from ``directory``: rows of string, translation and an
    optional ``plural``/``singular``/``unknown`` column (Tornado 4.3: UTF-16 or UTF-8 by BOM
    when ``encoding`` is not given). Replaces the translations loaded before."""
    global _translations
    _translations = {}
    for filename in os.listdir(directory):
        if not filename.endswith(".csv"):
            continue
        code, _ = filename.split(".")
        full_path = os.path.join(directory, filename)
        if not _LOCALE_FILE_NAME.match(code):
            gen_log.error("Unrecognized locale %r (path: %s)", code, full_path)
            continue
        if encoding is None:  # decided by the first file read, then kept (as Tornado does)
            with open(full_path, "rb") as raw:
                start = raw.read(len(codecs.BOM_UTF16_LE))
            bom16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
            encoding = "utf-16" if start in bom16 else "utf-8-sig"
        table: dict[str, dict[str, str]] = {}
        _translations[code] = table
        with open(full_path, encoding=encoding) as source:
            for number, row in enumerate(csv.reader(source), 1):
                if len(row) < 2:
                    continue
                cells = [cell.strip() for cell in row]
                kind = (cells[2] if len(cells) > 2 else "") or "unknown"
                if kind not in _PLURAL_KINDS:
                    gen_log.error(
                        "Unrecognized plural indicator %r in %s line %d", kind, filename, number
                    )
                    continue
                table.setdefault(kind, {})[cells[0]] = cells[1]
    _remember_supported()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def load_gettext_translations(directory: str, domain: str) -> None:
    """Read ``directory/LANG/LC_MESSAGES/DOMAIN.mo`` catalogues; replaces earlier ones."""
    global _translations, _use_gettext
    _translations = {}
    for path in glob.glob(os.path.join(directory, "*", "LC_MESSAGES", domain + ".mo")):
        lang = os.path.basename(os.path.dirname(os.path.dirname(path)))
        try:
            _translations[lang] = gettext.translation(domain, directory, languages=[lang])
        except Exception as exc:
            gen_log.error("Cannot load translation for '%s': %s", lang, str(exc))
    _remember_supported()
    _use_gettext = True
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def get_supported_locales() -> Iterable[str]:
    """The codes of the loaded translations, plus the default locale."""
    return _supported_locales


_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


class Locale:
    """One locale: translation and formatting of dates, lists and numbers.

    Obtain instances with `get` or `Locale.get_closest` (they are cached per code).
    """

    _cache: dict[str, Locale] = {}

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """The first of ``locale_codes`` supported exactly or by language, else the default."""
        for code in locale_codes:
            if not code:
                continue
            code = code.replace("-", "_")
            parts = code.split("_")
            if len(parts) > 2:
                continue
            if len(parts) == 2:
                code = parts[0].lower() + "_" + parts[1].upper()
            if code in _supported_locales:
                return cls.get(code)
            if parts[0].lower() in _supported_locales:
                return cls.get(parts[0].lower())
        return cls.get(_default_locale)

    @classmethod
    def get(cls, code: str) -> Locale:
        """The locale ``code``, which must be supported (AssertionError otherwise)."""
        locale = cls._cache.get(code)
        if locale is None:
            assert code in _supported_locales
            translations = _translations.get(code)
            if translations is None:
                locale = CSVLocale(code, {})
            elif _use_gettext:
                locale = GettextLocale(code, translations)
            else:
                locale = CSVLocale(code, translations)
            cls._cache[code] = locale
        return locale

    def __init__(self, code: str) -> None:
        self.code = code
        self.name = LOCALE_NAMES.get(code, {}).get("name", "Unknown")
        self.rtl = code.startswith(("fa", "ar", "he"))
        self._months = [self.translate(month) for month in _MONTHS]
        self._weekdays = [self.translate(day) for day in _WEEKDAYS]

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """``message`` in this locale; with ``plural_message``, the form ``count`` needs."""
        raise NotImplementedError(f"{type(self).__name__} must define translate")

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """`translate` with a disambiguating ``context`` (Tornado 4.2)."""
        raise NotImplementedError(f"{type(self).__name__} must define pgettext")

    def format_date(
        self,
        date: int | float | datetime.datetime,
        gmt_offset: int = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
    ) -> str:
        """``date`` for people: "2 minutes ago", "yesterday at 1:05 pm", "March 3, 2020 at
        ...". Timestamps and naive datetimes are UTC (aware ones accepted since Tornado 6.4);
        ``gmt_offset`` is the reader's offset in minutes west of UTC. Future dates (beyond a
        minute) are written in full."""
        if isinstance(date, int | float):
            date = datetime.datetime.fromtimestamp(date, datetime.UTC)
        if date.tzinfo is None:
            date = date.replace(tzinfo=datetime.UTC)
        now = datetime.datetime.now(datetime.UTC)
        if date > now:
            if relative and (date - now).total_seconds() < 60:
                date = now
            else:
                full_format = True
        offset = datetime.timedelta(minutes=gmt_offset)
        local_date = date - offset
        local_yesterday = now - offset - datetime.timedelta(hours=24)
        age = now - date
        seconds, days = age.seconds, age.days
        _ = self.translate
        pattern = None
        if not full_format:
            if relative and days == 0:
                if seconds < 50:
                    return _("1 second ago", "%(seconds)d seconds ago", seconds) % {
                        "seconds": seconds
                    }
                if seconds < 50 * 60:
                    minutes = round(seconds / 60.0)
                    return _("1 minute ago", "%(minutes)d minutes ago", minutes) % {
                        "minutes": minutes
                    }
                hours = round(seconds / 3600.0)
                return _("1 hour ago", "%(hours)d hours ago", hours) % {"hours": hours}
            if days == 0:
                pattern = _("%(time)s")
            elif days == 1 and local_date.day == local_yesterday.day and relative:
                pattern = _("yesterday") if shorter else _("yesterday at %(time)s")
            elif days < 5:
                pattern = _("%(weekday)s") if shorter else _("%(weekday)s at %(time)s")
            elif days < 334:  # under 11 months: the year is implied
                pattern = (
                    _("%(month_name)s %(day)s")
                    if shorter
                    else _("%(month_name)s %(day)s at %(time)s")
                )
        if pattern is None:
            pattern = (
                _("%(month_name)s %(day)s, %(year)s")
                if shorter
                else _("%(month_name)s %(day)s, %(year)s at %(time)s")
            )
        return pattern % {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
            "year": str(local_date.year),
            "time": self._clock(local_date),
        }

    def _clock(self, when: datetime.datetime) -> str:
        """The time of day: 12-hour with am/pm for English, 上午/下午 for zh_CN, else 24-hour."""
        hour12 = when.hour % 12 or 12
        if self.code == "zh_CN":
            half = ("\u4e0a\u5348", "\u4e0b\u5348")[when.hour >= 12]  # morning, afternoon
            return f"{half}{hour12}:{when.minute:02d}"
        if self.code in ("en", "en_US"):
            return f"{hour12}:{when.minute:02d} {('am', 'pm')[when.hour >= 12]}"
        return f"{when.hour}:{when.minute:02d}"

    def format_day(self, date: datetime.datetime, gmt_offset: int = 0, dow: bool = True) -> str:
        """``date`` as "Monday, January 22" (or "January 22" without ``dow``)."""
        local_date = date - datetime.timedelta(minutes=gmt_offset)
        values = {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
        }
        if dow:
            return self.translate("%(weekday)s, %(month_name)s %(day)s") % values
        return self.translate("%(month_name)s %(day)s") % values

    def list(self, parts: Any) -> str:
        """``parts`` joined as "A, B and C" ("A and B"; "A"; "" for none)."""
        if len(parts) == 0:
            return ""
        if len(parts) == 1:
            return parts[0]  # type: ignore[no-any-return]
        comma = " \u0648 " if self.code.startswith("fa") else ", "
        return self.translate("%(commas)s and %(last)s") % {
            "commas": comma.join(parts[:-1]),
            "last": parts[len(parts) - 1],
        }

    def friendly_number(self, value: int) -> str:
        """``value`` with thousands separators (English locales only)."""
        if self.code not in ("en", "en_US"):
            return str(value)
        text = str(value)  # grouped by threes from the right, whatever the characters
        return ",".join(reversed([text[max(end - 3, 0) : end] for end in range(len(text), 0, -3)]))


class CSVLocale(Locale):
    """A locale whose translations came from `load_translations` (or none at all)."""

    def __init__(self, code: str, translations: dict[str, dict[str, str]]) -> None:
        self.translations = translations
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            kind = "unknown"
        else:
            assert count is not None
            kind = "singular" if count == 1 else "plural"
            if count != 1:
                message = plural_message
        return self.translations.get(kind, {}).get(message, message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        if self.translations:
            gen_log.warning("pgettext is not supported by CSVLocale")
        return self.translate(message, plural_message, count)


class GettextLocale(Locale):
    """A locale whose translations came from `load_gettext_translations`."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        self.ngettext = translations.ngettext
        self.gettext = translations.gettext
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            return self.gettext(message)
        assert count is not None
        return self.ngettext(message, plural_message, count)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        # A catalogue without the context returns the key itself: then fall back to the
        # message without context.
        if plural_message is None:
            result = self.gettext(context + CONTEXT_SEPARATOR + message)
            return message if CONTEXT_SEPARATOR in result else result
        assert count is not None
        result = self.ngettext(
            context + CONTEXT_SEPARATOR + message,
            context + CONTEXT_SEPARATOR + plural_message,
            count,
        )
        if CONTEXT_SEPARATOR in result:
            result = self.ngettext(message, plural_message, count)
        return result
