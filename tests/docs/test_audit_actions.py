"""docs/audit.md lists exactly the audit vocabulary, ``audit.actions.Action``."""

from audit.actions import Action
from tests.docs.pages import code_spans, tables_with

PAGE = "audit.md"


def documented_actions() -> list[str]:
    """Return every action name in the first column of the page's action table, in order."""
    (table,) = tables_with(PAGE, "action")
    return [name for cell in table.column("action") for name in code_spans(cell)]


def test_audit_page_lists_every_action_once():
    names = documented_actions()
    assert len(names) == len(set(names)), f"docs/{PAGE} lists an action twice"
    assert set(names) == {action.value for action in Action}, (
        f"docs/{PAGE} and audit/actions.py differ: only in the docs {sorted(set(names) - set(Action))}, "
        f"only in the enum {sorted(set(Action) - set(names))}"
    )
