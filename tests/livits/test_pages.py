"""Every main page, opened by the beheerder in Dutch and in English: the header names
her (not the person on the page), and no text of the other language shows."""

import functools
import gettext as gnu_gettext
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from mfa.models import Device
from tests.helpers import link

CATALOG = settings.LOCALE_PATHS[0] / "nl" / "LC_MESSAGES" / "django.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


@functools.cache  # compiled once: the catalog holds more texts than the re module caches
def _pattern(text):
    """A regex for a catalog text, its placeholders matching anything. A short word
    ("Ja", "Nee") must be a whole text of its own; longer texts are found anywhere."""
    literal = PLACEHOLDER.split(text)
    letters = sum(len(re.sub(r"\W", "", part)) for part in literal)
    if not letters:
        return None
    holes = [r"\d+" if hole.endswith("d") else r"[^\n]+?" for hole in PLACEHOLDER.findall(text)]
    body = re.escape(literal[0]) + "".join(
        hole + re.escape(part) for hole, part in zip(holes, literal[1:], strict=True)
    )
    if letters < 4:
        return re.compile(rf"^{body}$", re.M)
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _catalog():
    """(English msgid, Dutch msgstr) pairs that differ."""
    with open(CATALOG, "rb") as handle:
        catalog = gnu_gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    pairs = []
    for key, dutch in catalog.items():
        english = key[0] if isinstance(key, tuple) else key
        if english and dutch and english != dutch:
            pairs.append((english, dutch))
    return pairs


PAIRS = _catalog()
# Words the manual itself prints in English on its Dutch screens (2.1: the padlock's
# heading and its first line), product names, and English that is Dutch too ("Log in
# op Livits" is the Dutch imperative of inloggen).
SAME_IN_BOTH = {"Multi-factor authentication", "MFA", "Livits", "Log in"}


class _Text(HTMLParser):
    """The text a reader meets in the page's language: text nodes and the labels of
    controls; not scripts, and not what is marked as another language (lang="...")."""

    LABELS = ("aria-label", "title", "placeholder", "alt")
    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, language):
        super().__init__()
        self.language, self.parts, self._open = language, [], []

    def _skipping(self):
        return any(skip for _tag, skip in self._open)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        other = attributes.get("lang", self.language).split("-")[0] != self.language
        if tag not in self.VOID:
            self._open.append((tag, tag in ("script", "style") or (other and tag != "html")))
        if not self._skipping():
            self.parts += [value for name, value in attrs if name in self.LABELS and value]

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if not self._skipping() and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html, language):
    parser = _Text(language)
    parser.feed(html)
    return "\n".join(parser.parts)


def foreign(text, language):
    """The catalog texts of the other language found in `text`."""
    found = []
    for english, dutch in PAIRS:
        other = english if language == "nl" else dutch
        if other in SAME_IN_BOTH:
            continue
        pattern = _pattern(other)
        if pattern and pattern.search(text):
            own = _pattern(dutch if language == "nl" else english)
            if not (own and own.search(text)):  # the same words in both: not foreign
                found.append(other)
    return found


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_main_page_names_the_beheerder_in_the_header(admin_client, backoffice, language):
    for name, url in backoffice:
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        html = response.content.decode()
        assert 'data-testid="current-user">Sabrina Boetzkes<' in html, name
        assert 'data-testid="current-user">Rob de Wit<' not in html, name


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_main_page_speaks_one_language(admin_client, admin_user, backoffice, language):
    from django.utils import timezone

    with translation.override(language):  # data made by someone using this language
        link(admin_user, timezone.now())
        Device.objects.filter(user__username="rdewit").update(
            name=gettext("Device %(number)s") % {"number": 1}
        )
    problems = {}
    for name, url in backoffice:
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code in (200, 404, 405), (name, response.status_code)
        found = foreign(visible_text(response.content.decode(), language), language)
        if found:
            problems[name] = found
    assert not problems


def test_the_check_sees_a_page_in_the_wrong_language():
    assert foreign("Inloggen mislukt. Controleer uw gebruikersnaam", "en")
    assert foreign("Login failed. Check your username", "nl")
    assert not foreign("Login failed. Check your username", "en")
    assert foreign("Rob\nNee\nJa", "en") and not foreign("Neeltje", "en")
    marked = '<p>Username</p><th lang="nl">Gebruikersnaam</th><p lang="nl-NL">Naam</p>'
    assert visible_text(marked, "en") == "Username"
