"""Text a person reads that a template states outside Django's translation tags.

The template is read with Django's own lexer: ``{% translate %}``/``{% blocktranslate %}`` blocks
and every other tag or variable become a marker, and what is left is parsed as HTML. Text
between tags and the attributes people read (``title``, ``alt``, ``placeholder``,
``aria-label``) must then hold no words; string literals given to filters and tags
(``|default:"the app"``) must be wrapped in ``_()``. ``ALLOWED`` lists the few words that are
the same in every language.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parents[2]
# Names and symbols that are not translated: the product, protocols, units, examples.
ALLOWED = {
    "Porchlight",
    "OpenID Connect",
    "OIDC",
    "OAuth",
    "JSON",
    "JWKS",
    "TOTP",
    "SCIM",
    "API",
    "URL",
    "ID",
    "sub",
    "UTC",
    "XXXX",
    "PKCE",
}
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description"}
MARK = "\x00"
# Elements whose text is code or a sample, the same in every language.
SKIPPED = {"script", "style", "pre", "code"}
WORD = re.compile(r"[^\W\d_]{2,}")
LITERAL = re.compile(r"""(?<![_(\w])(?<!date:)(?<!time:)(["'])((?:(?!\1).)*[^\W\d_]{2,}(?:(?!\1).)*)\1""")


def templates() -> list[Path]:
    """Every template Porchlight ships (HTML pages and the text of e-mails)."""
    found = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("templates/**/*.txt")]
    for app in ("accounts", "oidc_provider", "audit", "ops"):
        found += [*ROOT.glob(f"{app}/templates/**/*.html"), *ROOT.glob(f"{app}/templates/**/*.txt")]
    return sorted(found)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.found.append(value)
            if name == "value" and tag == "input" and dict(attrs).get("type") in ("submit", "button"):
                self.found.append(value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def _words(text: str) -> str:
    text = text.replace(MARK, " ")
    for allowed in sorted(ALLOWED, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(allowed)}\b", " ", text)
    return " ".join(WORD.findall(text))


def _said(literal: str) -> bool:
    """Whether a string literal in a tag is words for people (not a name, a format or a class)."""
    if literal in ALLOWED or literal.endswith((".html", ".txt")) or literal.isupper():
        return False
    return " " in literal.strip() or literal[:1].isupper()


def _literals(content: str) -> list[str]:
    return [match.group(2) for match in LITERAL.finditer(content) if _said(match.group(2))]


def untranslated(path: Path) -> list[str]:
    """Return the words in ``path`` that a person reads and no translation tag covers."""
    kept: list[str] = []
    problems: list[str] = []
    translating = 0  # inside {% blocktranslate %}
    skipping = 0  # inside {% comment %} or the admin's {% block bodyclass %} (CSS classes)
    blocks: list[str] = []
    for token in Lexer(path.read_text()).tokenize():
        content = token.contents
        bits = content.split()
        name = bits[0] if bits else ""
        if token.token_type == TokenType.BLOCK:
            if name in ("blocktranslate", "blocktrans"):
                translating += 1
            elif name in ("endblocktranslate", "endblocktrans"):
                translating -= 1
            elif name == "comment" or (name == "block" and bits[1:2] == ["bodyclass"]):
                skipping += 1
            elif name == "endcomment":
                skipping -= 1
            elif name not in ("translate", "trans", "plural", "if", "elif") and not translating:
                problems += [f"{{% {content} %}}: {text!r}" for text in _literals(content)]
            if name == "block":
                blocks.append(bits[1] if len(bits) > 1 else "")
            elif name == "endblock" and blocks and blocks.pop() == "bodyclass":
                skipping -= 1
            kept.append(MARK)
        elif token.token_type == TokenType.VAR:
            if not translating:
                problems += [f"{{{{ {content} }}}}: {text!r}" for text in _literals(content)]
            kept.append(MARK)
        elif token.token_type == TokenType.TEXT and not translating and not skipping:
            kept.append(content)
        else:
            kept.append(MARK)
    parser = _Text()
    parser.feed("".join(kept))
    parser.close()
    return problems + [words for words in map(_words, parser.found) if words]
