"""docs/configuration.md lists exactly the variables the code reads, and says truly where each is read."""

import ast
import os
import re
from functools import cache
from pathlib import Path

from tests.docs.pages import ROOT, first_code_word, page_text, tables_with

PAGE = "configuration.md"
# What a configuration variable is called: the project's prefix, and dj-database-url's one.
VARIABLE = re.compile(r"PORCHLIGHT_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL")
# settings.py's readers: env() reads NAME, then the file named by NAME_FILE; the others call env().
SETTINGS_READERS = {"env", "env_bool", "env_int", "env_list", "_networks"}
SETTINGS = ROOT / "porchlight" / "settings.py"
GUNICORN = ROOT / "porchlight" / "gunicorn.conf.py"


def _callee(node: ast.Call) -> str:
    """Return a call's function as dotted text: ``env``, ``os.environ.get``."""
    return ast.unparse(node.func)


@cache
def reads(path: Path) -> dict[str, str]:
    """Return each variable ``path`` reads from the environment, with the function that reads it.

    Python files are parsed: a call whose first argument is a variable name, or ``os.environ[NAME]``.
    In the Makefile, ``NAME ?= …`` takes the value from the environment when it is set.
    """
    if path.suffix != ".py":
        return {name: "?=" for name in re.findall(rf"\b({VARIABLE.pattern})\s*\?=", path.read_text())}
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            first, reader = node.args[0], _callee(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            first, reader = node.slice, ast.unparse(node.value)
        else:
            continue
        if (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and VARIABLE.fullmatch(first.value)
        ):
            found[first.value] = reader
    return found


def environment_reads(path: Path) -> set[str]:
    """Return the variables ``path`` reads, leaving out calls that pass a name on (``setenv``…)."""
    readers = {"os.environ.get", "os.getenv", "os.environ", "?="}
    if path == SETTINGS:
        readers |= SETTINGS_READERS
    return {name for name, reader in reads(path).items() if reader in readers}


def readers_legend() -> dict[str, Path]:
    """Return the page's legend: the name each table's "read by" column uses for a file."""
    (legend,) = [table for table in tables_with(PAGE, "read by") if "file" in table.header]
    return {row[0].strip("`"): ROOT / row[1].strip("`") for row in legend.rows}


def documented() -> dict[str, tuple[set[str], bool]]:
    """Return each documented variable with the readers its row names and whether it says ``/ _FILE``."""
    rows = {}
    for table in tables_with(PAGE, "variable"):
        for row in table.rows:
            name, read_by = first_code_word(row[0]), row[table.header.index("read by")]
            assert name not in rows, f"{name} is listed twice in docs/{PAGE}"
            readers = {reader.strip().strip("`") for reader in read_by.split(",")}
            rows[name] = (readers, "_FILE" in row[0])
    return rows


def test_configuration_legend_names_files_that_exist():
    legend = readers_legend()
    assert set(legend) == {"settings", "serve", "gunicorn", "granian", "make run"}
    for path in legend.values():
        assert path.is_file(), f"docs/{PAGE} names {path.relative_to(ROOT)}, which does not exist"


def test_configuration_parser_finds_what_settings_reads():
    # Guards the parsing itself: these are read in the three ways settings.py reads variables.
    settings = reads(SETTINGS)
    assert settings["PORCHLIGHT_ISSUER"] == "env"
    assert settings["PORCHLIGHT_SESSION_LIFETIME"] == "env_int"
    assert settings["PORCHLIGHT_VAR_DIR"] == "os.environ.get"
    assert reads(GUNICORN)["PORCHLIGHT_BIND"] == "os.environ.get"
    assert "PORCHLIGHT_BIND" in reads(ROOT / "Makefile")


def test_configuration_settings_read_only_through_known_readers():
    # A new way of reading a variable must be taught to this test, so none goes unnoticed.
    unknown = {
        name: reader
        for name, reader in reads(SETTINGS).items()
        if reader not in SETTINGS_READERS | {"os.environ.get"}
    }
    assert not unknown, f"porchlight/settings.py reads variables in a way this test does not know: {unknown}"


def test_configuration_documents_every_variable_settings_and_gunicorn_read():
    legend, rows = readers_legend(), documented()
    for reader, path in legend.items():
        if path.suffix != ".py":
            continue
        missing = sorted(
            name for name in environment_reads(path) if reader not in rows.get(name, ((), False))[0]
        )
        assert not missing, (
            f"{path.relative_to(ROOT)} reads {missing}: document each in docs/{PAGE} with "
            f"{reader!r} in its 'read by' column"
        )


def test_configuration_documents_only_variables_read_where_it_says():
    legend = readers_legend()
    for name, (readers, _) in documented().items():
        assert readers, f"{name} in docs/{PAGE} names no reader"
        for reader in readers:
            assert reader in legend, f"{name}: unknown reader {reader!r} (the legend has {sorted(legend)})"
            path = legend[reader]
            assert name in environment_reads(path), (
                f"docs/{PAGE} says {path.relative_to(ROOT)} reads {name}, but it does not"
            )


def test_configuration_file_variants_are_read_through_env():
    settings = reads(SETTINGS)
    for name, (_, file_variant) in documented().items():
        if file_variant:
            assert settings.get(name) in SETTINGS_READERS, (
                f"docs/{PAGE} offers {name}_FILE, but settings.py does not read {name} through env()"
            )


def test_configuration_every_settings_variable_but_var_dir_takes_a_file():
    # The page says: every variable settings.py reads, except PORCHLIGHT_VAR_DIR, can be a _FILE.
    direct = {name for name, reader in reads(SETTINGS).items() if reader not in SETTINGS_READERS}
    assert direct == {"PORCHLIGHT_VAR_DIR"}
    assert "except `PORCHLIGHT_VAR_DIR`" in " ".join(page_text(PAGE).split())


def _project_files():
    """Yield the project's own Python files and its Makefile (no virtualenv, no Node packages)."""
    yield ROOT / "Makefile"
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [
            d for d in subdirectories if not d.startswith(".") and d not in {"node_modules", "var"}
        ]
        for file in files:
            if file.endswith(".py"):
                yield Path(directory) / file


def test_configuration_every_variable_read_anywhere_is_documented():
    pages = "\n".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    for path in _project_files():
        if "PORCHLIGHT_" not in path.read_text():
            continue
        for name in environment_reads(path):
            if name.startswith("PORCHLIGHT_"):
                assert f"`{name}`" in pages, (
                    f"{path.relative_to(ROOT)} reads {name}, which no page in docs/ names"
                )
