"""docs/management-commands.md lists exactly the project's commands, with the options they take."""

import re
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import BaseCommand, get_commands, load_command_class

from tests.docs.pages import first_code_word, tables

PAGE = "management-commands.md"
OPTION = re.compile(r"--[a-z][a-z-]*")


def project_apps() -> set[str]:
    """Return the names of the installed apps whose code is in this repository (not in its venv)."""
    base = Path(settings.BASE_DIR).resolve()
    venv = Path(sys.prefix).resolve()
    return {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and not Path(config.path).resolve().is_relative_to(venv)
    }


def documented(heading: str) -> dict[str, str]:
    """Return each command in the table under ``heading``, with the synopsis the page gives it."""
    (table,) = [table for table in tables(PAGE) if table.heading == heading]
    synopses = {}
    for cell in table.column("command"):
        name = first_code_word(cell)
        assert name not in synopses, f"{name} is listed twice in docs/{PAGE}"
        synopses[name] = cell
    return synopses


def options_of(name: str) -> list[tuple[str, ...]]:
    """Return the option strings of each option ``name`` adds to Django's own."""
    common = {
        option
        for action in BaseCommand().create_parser("manage.py", name)._actions
        for option in action.option_strings
    }
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    return [
        tuple(action.option_strings)
        for action in parser._actions
        if action.option_strings and not set(action.option_strings) & common
    ]


def test_management_commands_page_lists_every_project_command():
    ours = {name for name, app in get_commands().items() if app in project_apps()}
    assert {"createclient", "rotatekeys", "purgeaudit", "reencrypt"} <= ours
    assert set(documented("Porchlight's commands")) == ours


def test_management_commands_library_commands_exist_and_are_not_ours():
    commands = get_commands()
    for name in documented("Commands of the libraries Porchlight runs"):
        assert name in commands, f"docs/{PAGE} lists {name}, which no installed app provides"
        assert commands[name] not in project_apps(), (
            f"{name} is Porchlight's own: list it with Porchlight's commands"
        )


def test_management_commands_options_are_documented_and_real():
    pages = {**documented("Porchlight's commands"), **documented("Commands of the libraries Porchlight runs")}
    ours = project_apps()
    for name, synopsis in pages.items():
        written = set(OPTION.findall(synopsis))
        options = options_of(name)
        real = {option for strings in options for option in strings}
        assert written <= real, f"docs/{PAGE}: {name} has no option {sorted(written - real)}"
        if get_commands()[name] in ours:
            missing = [strings for strings in options if not set(strings) & written]
            assert not missing, f"docs/{PAGE}: {name} takes {missing}, which its synopsis leaves out"
