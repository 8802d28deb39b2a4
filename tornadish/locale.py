"""Translation and locale-aware formatting (Tornado's ``tornado.locale``).

Load translations once at start-up, from CSV files (:func:`load_translations`) or
gettext catalogues (:func:`load_gettext_translations`), then get a :class:`Locale`
with :func:`get` (the handler's ``self.locale`` does this from ``Accept-Language``)::

    tornadish.locale.load_translations("translations")
    user_locale = tornadish.locale.get("es_LA")
    print(user_locale.translate("Sign out"))
    print(user_locale.translate("%(name)s liked this", "%(name)s liked this", 2))

The loaded translations and the default locale are module state, as Tornado's API
requires (a process serves one set of translations).
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

from tornadish.log import gen_log

__all__ = [
    "CONTEXT_SEPARATOR",
    "LOCALE_NAMES",
    "CSVLocale",
    "GettextLocale",
    "Locale",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "set_default_locale",
]

#: Separates context and message in gettext catalogues (``msgctxt``).
CONTEXT_SEPARATOR = "\x04"

_default_locale = "en_US"
_translations: dict[str, Any] = {}
_supported_locales: frozenset[str] = frozenset([_default_locale])
_use_gettext = False


def get(*locale_codes: str) -> Locale:
    """The closest supported locale to the codes given, best first (``"en_US"``,
    ``"en-us"`` or ``"en"``); the default locale if none is supported."""
    return Locale.get_closest(*locale_codes)


def set_default_locale(code: str) -> None:
    """Use ``code`` when nothing better matches (default ``en_US``: the language the
    application's strings are written in, which needs no translation)."""
    global _default_locale, _supported_locales
    _default_locale = code
    _supported_locales = frozenset([*_translations, _default_locale])


def load_translations(directory: str, encoding: str | None = None) -> None:
    """Load ``LOCALE.csv`` files (``es_GT.csv``) from ``directory``.

    Each row is ``"original","translation"`` with an optional third column,
    ``"plural"`` or ``"singular"``, for the two forms of a message used with a count::

        "%(name)s liked this","A %(name)s les gustó esto","plural"
        "%(name)s liked this","A %(name)s le gustó esto","singular"

    Files are UTF-8 unless they start with a UTF-16 byte-order mark, or ``encoding``
    says otherwise.
    """
    global _translations, _supported_locales, _use_gettext
    translations: dict[str, dict[str, dict[str, str]]] = {}
    for filename in sorted(os.listdir(directory)):
        if not filename.endswith(".csv"):
            continue
        code = filename[:-4]
        if not re.match(r"[a-z]+(_[A-Z]+)?\Z", code):
            gen_log.error(
                "Unrecognized locale %r (path: %s)", code, os.path.join(directory, filename)
            )
            continue
        path = os.path.join(directory, filename)
        enc = encoding
        if enc is None:
            with open(path, "rb") as bf:
                head = bf.read(len(codecs.BOM_UTF16_LE))
            enc = "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
        table = translations.setdefault(code, {})
        with open(path, encoding=enc, newline="") as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                if not row or len(row) < 2:
                    continue
                original, translated = row[0], row[1]
                form = (row[2] if len(row) > 2 else "") or "unknown"
                if form not in ("plural", "singular", "unknown"):
                    gen_log.error(
                        "Unrecognized plural indicator %r in %s line %d", form, path, lineno
                    )
                    continue
                table.setdefault(form, {})[original] = translated
    _translations = translations
    _supported_locales = frozenset([*translations, _default_locale])
    _use_gettext = False
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def load_gettext_translations(directory: str, domain: str) -> None:
    """Load gettext catalogues ``{directory}/{lang}/LC_MESSAGES/{domain}.mo``."""
    global _translations, _supported_locales, _use_gettext
    translations: dict[str, gettext.NullTranslations] = {}
    for path in glob.glob(os.path.join(directory, "*", "LC_MESSAGES", domain + ".mo")):
        lang = os.path.basename(os.path.dirname(os.path.dirname(path)))
        try:
            translations[lang] = gettext.translation(domain, directory, languages=[lang])
        except Exception as e:
            gen_log.error("Cannot load translation for '%s': %s", lang, e)
    _translations = translations
    _supported_locales = frozenset([*translations, _default_locale])
    _use_gettext = True
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def get_supported_locales() -> Iterable[str]:
    """The codes of the loaded locales (plus the default)."""
    return _supported_locales


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class Locale:
    """A language: translation and formatting of dates, lists and numbers.

    Get one with :func:`get` or :meth:`get_closest`, not the constructor.
    """

    _cache: dict[str, Locale] = {}

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """The first of ``locale_codes`` that is supported, trying each code's
        language alone (``"es"`` for ``"es_MX"``) too; else the default locale."""
        for code in locale_codes:
            if not code:
                continue
            parts = code.replace("-", "_").split("_")
            if len(parts) > 2:
                continue
            lang = parts[0].lower()
            full = lang + "_" + parts[1].upper() if len(parts) == 2 else parts[0]
            if full in _supported_locales:
                return cls.get(full)
            if lang in _supported_locales:
                return cls.get(lang)
        return cls.get(_default_locale)

    @classmethod
    def get(cls, code: str) -> Locale:
        """The locale ``code`` (must be supported; see :func:`get_supported_locales`)."""
        loc = cls._cache.get(code)
        if loc is None:
            if code not in _supported_locales:
                raise AssertionError(f"unsupported locale {code!r}")
            translations = _translations.get(code)
            if translations is None:
                loc = CSVLocale(code, {})
            elif _use_gettext:
                loc = GettextLocale(code, translations)
            else:
                loc = CSVLocale(code, translations)
            cls._cache[code] = loc
        return loc

    def __init__(self, code: str) -> None:
        self.code = code
        self.name = LOCALE_NAMES.get(code, {}).get("name", "Unknown")
        self.rtl = code.startswith(("fa", "ar", "he"))
        _ = self.translate
        self._months = [_(m) for m in _MONTHS]
        self._weekdays = [_(d) for d in _WEEKDAYS]

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """``message`` in this language; with ``plural_message`` and ``count``, the
        singular or plural form for ``count``."""
        raise NotImplementedError()

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """Like :meth:`translate`, for ``message`` in ``context`` (gettext only)."""
        raise NotImplementedError()

    def format_date(
        self,
        date: float | datetime.datetime,
        gmt_offset: int = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
    ) -> str:
        """``date`` (a UTC timestamp or datetime; naive means UTC) for people.

        Relative when recent ("2 minutes ago", "yesterday at 4:05 pm", "Monday at
        ..."), else absolute ("July 10, 1980 at 9:02 am"); ``full_format`` forces the
        absolute form, ``shorter`` drops the time; ``gmt_offset`` is the viewer's
        offset from UTC in minutes (UTC minus local, as JavaScript's
        ``getTimezoneOffset``). Future dates are absolute.
        """
        if isinstance(date, (int, float)):
            date = datetime.datetime.fromtimestamp(date, datetime.timezone.utc)
        if date.tzinfo is None:
            date = date.replace(tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        if date > now:
            # Clock skew of a few seconds still reads "1 second ago".
            if relative and (date - now).total_seconds() < 60:
                date = now
            else:
                full_format = True
        local = date - datetime.timedelta(minutes=gmt_offset)
        local_yesterday = now - datetime.timedelta(minutes=gmt_offset, hours=24)
        age = now - date
        seconds, days = age.seconds, age.days
        _ = self.translate
        fmt = None
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
                fmt = _("%(time)s")
            elif days == 1 and relative and local.day == local_yesterday.day:
                fmt = _("yesterday") if shorter else _("yesterday at %(time)s")
            elif days < 5:
                fmt = _("%(weekday)s") if shorter else _("%(weekday)s at %(time)s")
            elif days < 334:  # under 11 months: the year is implied
                fmt = (
                    _("%(month_name)s %(day)s")
                    if shorter
                    else _("%(month_name)s %(day)s at %(time)s")
                )
        if fmt is None:
            fmt = (
                _("%(month_name)s %(day)s, %(year)s")
                if shorter
                else _("%(month_name)s %(day)s, %(year)s at %(time)s")
            )
        return fmt % {
            "month_name": self._months[local.month - 1],
            "weekday": self._weekdays[local.weekday()],
            "day": str(local.day),
            "year": str(local.year),
            "time": self._clock(local),
        }

    def _clock(self, t: datetime.datetime) -> str:
        hour12 = t.hour % 12 or 12
        if self.code in ("en", "en_US"):
            return "%d:%02d %s" % (hour12, t.minute, "pm" if t.hour >= 12 else "am")
        if self.code == "zh_CN":
            return "%s%d:%02d" % (
                "\u4e0b\u5348" if t.hour >= 12 else "\u4e0a\u5348",
                hour12,
                t.minute,
            )
        return "%d:%02d" % (t.hour, t.minute)

    def format_day(self, date: datetime.datetime, gmt_offset: int = 0, dow: bool = True) -> str:
        """``date`` as a day: "Monday, January 22" (without the weekday if not
        ``dow``)."""
        local = date - datetime.timedelta(minutes=gmt_offset)
        values = {
            "month_name": self._months[local.month - 1],
            "weekday": self._weekdays[local.weekday()],
            "day": str(local.day),
        }
        if dow:
            return self.translate("%(weekday)s, %(month_name)s %(day)s") % values
        return self.translate("%(month_name)s %(day)s") % values

    def list(self, parts: Any) -> str:
        """``parts`` joined for a sentence: "A, B and C", "A and B", "A"."""
        if len(parts) == 0:
            return ""
        if len(parts) == 1:
            return str(parts[0])
        comma = " \u0648 " if self.code.startswith("fa") else ", "
        return self.translate("%(commas)s and %(last)s") % {
            "commas": comma.join(parts[:-1]),
            "last": parts[-1],
        }

    def friendly_number(self, value: int) -> str:
        """``value`` with thousands separators where the locale uses them
        ("1,234,567" in English)."""
        if self.code not in ("en", "en_US"):
            return str(value)
        return f"{value:,}" if value >= 0 else "-" + f"{-value:,}"


class CSVLocale(Locale):
    """A locale translated by the tables :func:`load_translations` read."""

    def __init__(self, code: str, translations: dict[str, dict[str, str]]) -> None:
        self.translations = translations
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is not None:
            if count is None:
                raise ValueError("translate() with plural_message needs a count")
            form = "singular" if count == 1 else "plural"
            if count != 1:
                message = plural_message
        else:
            form = "unknown"
        return self.translations.get(form, {}).get(message, message)

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
    """A locale translated by a gettext catalogue."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        # Set before Locale.__init__, which translates month and day names.
        self.ngettext = translations.ngettext
        self.gettext = translations.gettext
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is not None:
            if count is None:
                raise ValueError("translate() with plural_message needs a count")
            return self.ngettext(message, plural_message, count)
        return self.gettext(message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """Translate ``message`` as used in ``context`` (``msgctxt``); falls back to
        the message without context.

        >>> locale.pgettext("law", "right")                  # doctest: +SKIP
        """
        if plural_message is not None:
            if count is None:
                raise ValueError("pgettext() with plural_message needs a count")
            result = self.ngettext(
                context + CONTEXT_SEPARATOR + message,
                context + CONTEXT_SEPARATOR + plural_message,
                count,
            )
            if CONTEXT_SEPARATOR in result:  # not in the catalogue
                return self.ngettext(message, plural_message, count)
            return result
        result = self.gettext(context + CONTEXT_SEPARATOR + message)
        return message if CONTEXT_SEPARATOR in result else result


# Names of the locales, in English and in the language itself (Tornado's table).
LOCALE_NAMES: dict[str, dict[str, str]] = {
    "af_ZA": {"name_en": "Afrikaans", "name": "Afrikaans"},
    "am_ET": {"name_en": "Amharic", "name": "አማርኛ"},
    "ar_AR": {"name_en": "Arabic", "name": "العربية"},
    "bg_BG": {"name_en": "Bulgarian", "name": "Български"},
    "bn_IN": {"name_en": "Bengali", "name": "বাংলা"},
    "bs_BA": {"name_en": "Bosnian", "name": "Bosanski"},
    "ca_ES": {"name_en": "Catalan", "name": "Català"},
    "cs_CZ": {"name_en": "Czech", "name": "Čeština"},
    "cy_GB": {"name_en": "Welsh", "name": "Cymraeg"},
    "da_DK": {"name_en": "Danish", "name": "Dansk"},
    "de_DE": {"name_en": "German", "name": "Deutsch"},
    "el_GR": {"name_en": "Greek", "name": "Ελληνικά"},
    "en_GB": {"name_en": "English (UK)", "name": "English (UK)"},
    "en_US": {"name_en": "English (US)", "name": "English (US)"},
    "es_ES": {"name_en": "Spanish (Spain)", "name": "Español (España)"},
    "es_LA": {"name_en": "Spanish", "name": "Español"},
    "et_EE": {"name_en": "Estonian", "name": "Eesti"},
    "eu_ES": {"name_en": "Basque", "name": "Euskara"},
    "fa_IR": {"name_en": "Persian", "name": "فارسی"},
    "fi_FI": {"name_en": "Finnish", "name": "Suomi"},
    "fr_CA": {"name_en": "French (Canada)", "name": "Français (Canada)"},
    "fr_FR": {"name_en": "French", "name": "Français"},
    "ga_IE": {"name_en": "Irish", "name": "Gaeilge"},
    "gl_ES": {"name_en": "Galician", "name": "Galego"},
    "he_IL": {"name_en": "Hebrew", "name": "עברית"},
    "hi_IN": {"name_en": "Hindi", "name": "हिन्दी"},
    "hr_HR": {"name_en": "Croatian", "name": "Hrvatski"},
    "hu_HU": {"name_en": "Hungarian", "name": "Magyar"},
    "id_ID": {"name_en": "Indonesian", "name": "Bahasa Indonesia"},
    "is_IS": {"name_en": "Icelandic", "name": "Íslenska"},
    "it_IT": {"name_en": "Italian", "name": "Italiano"},
    "ja_JP": {"name_en": "Japanese", "name": "日本語"},
    "ko_KR": {"name_en": "Korean", "name": "한국어"},
    "lt_LT": {"name_en": "Lithuanian", "name": "Lietuvių"},
    "lv_LV": {"name_en": "Latvian", "name": "Latviešu"},
    "mk_MK": {"name_en": "Macedonian", "name": "Македонски"},
    "ml_IN": {"name_en": "Malayalam", "name": "മലയാളം"},
    "ms_MY": {"name_en": "Malay", "name": "Bahasa Melayu"},
    "nb_NO": {"name_en": "Norwegian (bokmal)", "name": "Norsk (bokmål)"},
    "nl_NL": {"name_en": "Dutch", "name": "Nederlands"},
    "nn_NO": {"name_en": "Norwegian (nynorsk)", "name": "Norsk (nynorsk)"},
    "pa_IN": {"name_en": "Punjabi", "name": "ਪੰਜਾਬੀ"},
    "pl_PL": {"name_en": "Polish", "name": "Polski"},
    "pt_BR": {"name_en": "Portuguese (Brazil)", "name": "Português (Brasil)"},
    "pt_PT": {"name_en": "Portuguese (Portugal)", "name": "Português (Portugal)"},
    "ro_RO": {"name_en": "Romanian", "name": "Română"},
    "ru_RU": {"name_en": "Russian", "name": "Русский"},
    "sk_SK": {"name_en": "Slovak", "name": "Slovenčina"},
    "sl_SI": {"name_en": "Slovenian", "name": "Slovenščina"},
    "sq_AL": {"name_en": "Albanian", "name": "Shqip"},
    "sr_RS": {"name_en": "Serbian", "name": "Српски"},
    "sv_SE": {"name_en": "Swedish", "name": "Svenska"},
    "sw_KE": {"name_en": "Swahili", "name": "Kiswahili"},
    "ta_IN": {"name_en": "Tamil", "name": "தமிழ்"},
    "te_IN": {"name_en": "Telugu", "name": "తెలుగు"},
    "th_TH": {"name_en": "Thai", "name": "ภาษาไทย"},
    "tl_PH": {"name_en": "Filipino", "name": "Filipino"},
    "tr_TR": {"name_en": "Turkish", "name": "Türkçe"},
    "uk_UA": {"name_en": "Ukraini ", "name": "Українська"},
    "vi_VN": {"name_en": "Vietnamese", "name": "Tiếng Việt"},
    "zh_CN": {"name_en": "Chinese (Simplified)", "name": "中文(简体)"},
    "zh_TW": {"name_en": "Chinese (Traditional)", "name": "中文(繁體)"},
}
