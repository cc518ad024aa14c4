"""The environment variables Porchlight reads, as docs/configuration.md lists them.

tests/docs/test_configuration.py holds that page to exactly what the code reads, so a deployment
file checked against this list is checked against the code.
"""

from functools import cache

from tests.docs.pages import first_code_word, tables_with


@cache
def variables() -> frozenset[str]:
    """Return every variable Porchlight reads, with the ``_FILE`` form of those settings.py reads."""
    names: set[str] = set()
    for table in tables_with("configuration.md", "variable"):
        read_by = table.header.index("read by")
        for row in table.rows:
            name = first_code_word(row[0])
            names.add(name)
            # Every variable settings.py reads, but PORCHLIGHT_VAR_DIR, can be given as a file.
            if "settings" in row[read_by] and name != "PORCHLIGHT_VAR_DIR":
                names.add(f"{name}_FILE")
    return frozenset(names)
