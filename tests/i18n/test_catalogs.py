"""The shipped catalogs are complete and the compiled ones are what their sources say.

A fresh ``makemessages`` (what ``make messages`` runs) collects every msgid from the code and
templates; each shipped language's ``django.po`` must hold every one of them translated and not
fuzzy (gettext's ``msgcmp``), its placeholders and markup kept (``msgfmt --check`` and the
comparison below), and its committed ``django.mo`` must be exactly what ``msgfmt`` makes of it.
Needs Debian's gettext (``make gettext``).
"""

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation import to_locale

from tests.i18n.template_text import ROOT

# The source folders ``make messages`` reads (it walks the checkout and ignores the rest).
SOURCES = (
    "accounts",
    "audit",
    "directory",
    "ground",
    "oidc_provider",
    "ops",
    "porchlight",
    "scim",
    "templates",
    "upstream",
)
LANGUAGES = [to_locale(code) for code, _name in settings.LANGUAGES if code != "en"]
# Catalogs whose translation is still being written: the completeness test is expected to fail
# for them, and fails ("XPASS(strict)") as soon as one is complete, so that it is removed here.
PENDING: set[str] = set()
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
TAG = re.compile(r"</?([a-z]+)")


def catalog(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES"


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory) -> Path:
    """Return the django.pot a fresh makemessages makes from the code and templates."""
    work = tmp_path_factory.mktemp("messages")
    # Copies, not links: makemessages writes a ``.py`` work file beside each template it reads,
    # and the other suite (or ``make messages``) may be reading the same checkout at this moment.
    skip = shutil.ignore_patterns("__pycache__", "node_modules")
    for name in SOURCES:
        shutil.copytree(ROOT / name, work / name, ignore=skip)
    # The project's settings, writing into this folder's locale/ rather than the checkout's.
    (work / "i18n_settings.py").write_text(
        f"from porchlight.settings import *  # noqa: F403\nLOCALE_PATHS = [{str(work / 'locale')!r}]\n"
    )
    (work / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "de", "--keep-pot", "-v0"],
        cwd=work,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{work}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "i18n_settings",
        },
        check=True,
    )
    return work / "locale" / "django.pot"


def test_every_shipped_language_has_a_catalog():
    assert LANGUAGES == ["de", "es", "fr", "nl", "pt_BR"]
    for language in LANGUAGES:
        assert (catalog(language) / "django.po").is_file() and (catalog(language) / "django.mo").is_file()


@pytest.mark.parametrize(
    "language",
    [
        pytest.param(language, marks=pytest.mark.xfail(strict=True)) if language in PENDING else language
        for language in LANGUAGES
    ],
)
def test_catalog_translates_every_msgid(fresh_template, language):
    # msgcmp fails for a msgid of the fresh template that the catalog lacks, leaves untranslated
    # or marks fuzzy.
    compared = subprocess.run(
        ["msgcmp", str(catalog(language) / "django.po"), str(fresh_template)], capture_output=True, text=True
    )
    assert compared.returncode == 0, compared.stderr[-3000:]


def test_fresh_template_has_the_strings_people_see(fresh_template):
    # The collection itself works: strings of templates, e-mails, forms and the admin are in it.
    text = fresh_template.read_text()
    for msgid in ("Sign in", "Connected apps", "Reset your %(site)s password", "Revoke selected consents"):
        assert msgid in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_keeps_placeholders_and_markup(tmp_path, language):
    # msgfmt --check: python-format placeholders match, plural forms fit the header.
    checked = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(catalog(language) / "django.po")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    wrong = []
    for msgid, msgstr in _entries(catalog(language) / "django.mo").items():
        source = msgid[0] if isinstance(msgid, tuple) else msgid
        if not msgstr or not source:
            continue
        placeholders = sorted(set(PLACEHOLDER.findall(source))) == sorted(set(PLACEHOLDER.findall(msgstr)))
        if not placeholders or sorted(TAG.findall(source)) != sorted(TAG.findall(msgstr)):
            wrong.append((source, msgstr))
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_its_source(tmp_path, language):
    # The committed django.mo (so a fresh clone needs no gettext) is what msgfmt makes of django.po.
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(catalog(language) / "django.po")], check=True)
    assert _entries(catalog(language) / "django.mo") == _entries(compiled)


def _entries(path: Path) -> dict:
    """Return a compiled catalog's messages, msgid → msgstr (plural forms keyed (msgid, n))."""
    with path.open("rb") as file:
        translations = gettext.GNUTranslations(file)
    return {key: value for key, value in translations._catalog.items() if key != ""}  # type: ignore[attr-defined]
