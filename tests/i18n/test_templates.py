"""No template says anything a person reads outside Django's translation tags."""

import pytest

from tests.i18n.template_text import ROOT, templates, untranslated


def test_templates_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in templates()}
    expected = {
        "templates/base.html",
        "templates/accounts/login.html",
        "templates/accounts/invitation_email.txt",
    }
    assert expected <= names


@pytest.mark.parametrize("path", templates(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_template_text_is_all_in_translation_tags(path):
    assert untranslated(path) == [], f"{path.relative_to(ROOT)} says words outside {{% translate %}}"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("<h1>Sign in</h1>", ["Sign in"]),
        ('<input type="submit" value="Send the link">', ["Send the link"]),
        ('<a href="/" aria-label="Go home">→</a>', ["Go home"]),
        ("{% block title %}Your data{% endblock %}", ["Your data"]),
        ('{{ client.name|default:"the app" }}', ["{{ client.name|default:\"the app\" }}: 'the app'"]),
        ("Hello {{ name }},\n\nYour link:", ["Hello Your link"]),
        ('{% load i18n %}<h1>{% translate "Sign in" %}</h1>', []),
        ("{% load i18n %}<p>{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}</p>", []),
        ("<p>{{ user.email }} · {{ count }}</p>", []),
        ("<pre>email,first_name</pre><code>Authorization: Bearer</code>", []),
        ("<script>alert('Not for people')</script>", []),
        ("{# A comment for developers #}{% comment %}More words{% endcomment %}", []),
        ("<p>Porchlight · OpenID Connect</p>", []),
    ],
)
def test_template_checker_finds_words_outside_tags(tmp_path, source, found):
    # The rule itself: a template with words outside the tags is caught, one without is not.
    template = tmp_path / "page.html"
    template.write_text(source)
    assert untranslated(template) == found
