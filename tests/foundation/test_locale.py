"""tornadish.locale against tornado.locale: same translations and formatting."""

from __future__ import annotations

import datetime
import os
import subprocess
from collections.abc import Iterator

import pytest
import tornado.locale

from tornadish import locale

SEEDS_TRANSLATIONS = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "template", "templates", "seeds", "translations"
)


def _reset(mod: object) -> None:
    mod._translations = {}  # type: ignore[attr-defined]
    mod._supported_locales = frozenset(["en_US"])  # type: ignore[attr-defined]
    mod._use_gettext = False  # type: ignore[attr-defined]
    mod._default_locale = "en_US"  # type: ignore[attr-defined]
    mod.Locale._cache.clear()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    _reset(locale)
    _reset(tornado.locale)


@pytest.fixture
def csv_dir(tmp_path: os.PathLike[str]) -> str:
    d = str(tmp_path)
    with open(os.path.join(d, "es_LA.csv"), "w", encoding="utf-8") as f:
        f.write(
            '"Sign out","Salir"\n'
            '"%(name)s liked this","A %(name)s les gustó esto","plural"\n'
            '"%(name)s liked this","A %(name)s le gustó esto","singular"\n'
            '"January","Enero"\n"Monday","Lunes"\n'
            '"%(commas)s and %(last)s","%(commas)s y %(last)s"\n'
            '"bad","row","weird"\n'
        )
    with open(os.path.join(d, "fr_FR.csv"), "w", encoding="utf-8") as f:
        f.write('"Sign out","Se déconnecter"\n')
    with open(os.path.join(d, "xx_YY.csv"), "w") as f:
        f.write('"a","b"\n')  # not in LOCALE_NAMES, still loaded (name "Unknown")
    with open(os.path.join(d, "bad-name.csv"), "w") as f:
        f.write('"a","b"\n')  # not a locale code: skipped
    return d


def both(directory: str) -> None:
    locale.load_translations(directory)
    tornado.locale.load_translations(directory)


def test_csv_translations_match_tornado(csv_dir: str) -> None:
    both(csv_dir)
    assert set(locale.get_supported_locales()) == set(tornado.locale.get_supported_locales())
    for code in ("es_LA", "fr_FR", "en_US"):
        ours, theirs = locale.get(code), tornado.locale.get(code)
        assert type(ours).__name__ == type(theirs).__name__
        assert (ours.code, ours.name, ours.rtl) == (theirs.code, theirs.name, theirs.rtl)
        assert ours.translate("Sign out") == theirs.translate("Sign out")
        for n in (1, 2):
            args = ("%(name)s liked this", "%(name)s liked this", n)
            assert ours.translate(*args) == theirs.translate(*args)
            assert ours.pgettext("ctx", *args) == theirs.pgettext("ctx", *args)
        assert ours.list(["a", "b", "c"]) == theirs.list(["a", "b", "c"])


def test_seed_de_de_file() -> None:
    locale.load_translations(SEEDS_TRANSLATIONS)
    assert locale.get("de_DE").translate("Donate") == "Spenden"
    assert locale.get("de-de").translate("Paste Options") == "Paste Optionen"


@pytest.mark.parametrize(
    "codes",
    [("es_LA",), ("es",), ("es-la",), ("ES_la",), ("de", "fr_FR"), ("zz",), ("a_b_c", "fr"), ("",)],
)
def test_get_closest_matches_tornado(csv_dir: str, codes: tuple[str, ...]) -> None:
    both(csv_dir)
    assert locale.get(*codes).code == tornado.locale.get(*codes).code


def test_set_default_locale(csv_dir: str) -> None:
    both(csv_dir)
    locale.set_default_locale("fr_FR")
    tornado.locale.set_default_locale("fr_FR")
    assert locale.get("zz").code == tornado.locale.get("zz").code == "fr_FR"


NOW = datetime.datetime.now(datetime.timezone.utc)
DATES = [
    NOW - datetime.timedelta(seconds=s)
    for s in (
        0,
        1,
        30,
        55,
        61,
        119,
        3000,
        3600,
        7200,
        80000,
        86400 + 60,
        3 * 86400,
        10 * 86400,
        200 * 86400,
        400 * 86400,
    )
] + [NOW + datetime.timedelta(seconds=30), NOW + datetime.timedelta(days=3)]


@pytest.mark.parametrize("code", ["en_US", "es_LA", "zh_CN", "fr_FR"])
@pytest.mark.parametrize(
    "options",
    [{}, {"relative": False}, {"shorter": True}, {"full_format": True}, {"gmt_offset": 300}],
)
def test_format_date_matches_tornado(csv_dir: str, code: str, options: dict[str, object]) -> None:
    both(csv_dir)
    locale.set_default_locale(code)
    tornado.locale.set_default_locale(code)
    ours, theirs = locale.get(code), tornado.locale.get(code)
    for date in DATES:
        assert ours.format_date(date, **options) == theirs.format_date(date, **options), date  # type: ignore[arg-type]
    ts = NOW.timestamp() - 100000
    assert ours.format_date(ts) == theirs.format_date(ts)
    naive = datetime.datetime(2001, 2, 3, 4, 5)
    assert ours.format_date(naive) == theirs.format_date(naive)
    assert ours.format_day(naive) == theirs.format_day(naive)
    assert ours.format_day(naive, dow=False, gmt_offset=-600) == theirs.format_day(
        naive, dow=False, gmt_offset=-600
    )


@pytest.mark.parametrize("value", [0, 7, 999, 1000, 1234567, 10**12])
@pytest.mark.parametrize("code", ["en_US", "de_DE"])
def test_friendly_number_and_list(value: int, code: str) -> None:
    locale.set_default_locale(code)
    tornado.locale.set_default_locale(code)
    assert locale.get(code).friendly_number(value) == tornado.locale.get(code).friendly_number(
        value
    )
    for parts in ([], ["a"], ["a", "b"], ["a", "b", "c"]):
        assert locale.get(code).list(parts) == tornado.locale.get(code).list(parts)


def test_gettext_translations(tmp_path: os.PathLike[str]) -> None:
    d = os.path.join(str(tmp_path), "pt_BR", "LC_MESSAGES")
    os.makedirs(d)
    po = os.path.join(d, "app.po")
    with open(po, "w", encoding="utf-8") as f:
        f.write(
            'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
            '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
            'msgid "Sign out"\nmsgstr "Sair"\n\n'
            'msgctxt "law"\nmsgid "right"\nmsgstr "direito"\n\n'
            'msgid "%(n)d file"\nmsgid_plural "%(n)d files"\nmsgstr[0] "%(n)d arquivo"\n'
            'msgstr[1] "%(n)d arquivos"\n'
        )
    try:
        subprocess.run(["msgfmt", po, "-o", os.path.join(d, "app.mo")], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("msgfmt not available")
    locale.load_gettext_translations(str(tmp_path), "app")
    tornado.locale.load_gettext_translations(str(tmp_path), "app")
    ours, theirs = locale.get("pt_BR"), tornado.locale.get("pt_BR")
    assert isinstance(ours, locale.GettextLocale)
    for args in [("Sign out",), ("%(n)d file", "%(n)d files", 1), ("%(n)d file", "%(n)d files", 3)]:
        assert ours.translate(*args) == theirs.translate(*args)  # type: ignore[arg-type]
    assert ours.pgettext("law", "right") == theirs.pgettext("law", "right") == "direito"
    assert ours.pgettext("good", "right") == "right"
    assert ours.pgettext("x", "%(n)d file", "%(n)d files", 2) == "%(n)d arquivos"


def test_locale_names_table_matches_tornado() -> None:
    assert locale.LOCALE_NAMES == tornado.locale.LOCALE_NAMES


def test_utf16_csv_with_bom(tmp_path: os.PathLike[str]) -> None:
    with open(os.path.join(str(tmp_path), "fr_FR.csv"), "w", encoding="utf-16") as f:
        f.write('"Sign out","Se déconnecter"\n')
    locale.load_translations(str(tmp_path))
    assert locale.get("fr-fr").translate("Sign out") == "Se déconnecter"
