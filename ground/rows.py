"""Model objects built from database rows without ``Model.__init__``'s loop over every field.

Django builds each row's object with ``Model.from_db``, which calls ``Model.__init__`` with the
row's values: ``pre_init`` and ``post_init`` sent, a list the length of the model's columns built
to mark the ones not selected, and one ``setattr`` per column through the field's descriptor. A
UserInfo request builds three such objects from its one joined row (the token, its user and its
client, 50 columns), which took about a sixth of its CPU in process (``make bench
PROFILE=userinfo``; docs/performance.md).

``row_object`` builds the same object: the selected columns in the instance's ``__dict__`` (where
``setattr`` puts them: no column of a model that uses it has a descriptor that does more for an
object being built, which ``row_object_safe`` checks once per model), the columns not selected
left out (Django's deferred fields, loaded on access exactly as before) and the state
``from_db`` sets (``_state.adding`` False, ``_state.db``). While anything listens to ``pre_init``
or ``post_init`` for the model, Django builds it as before, so a receiver sees every object.
A model opts in by overriding ``from_db`` with it; its own ``__init__``, if any, must do nothing
a row from the database needs, since it no longer runs for one.
"""

from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

_M = TypeVar("_M", bound=Model)

# Descriptors whose assignment to a new object only stores the value in ``__dict__``: a plain
# column's (no __set__), and a foreign key's id, which otherwise also drops a cached related
# object that a new object does not have.
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)
_safe: dict[type[Model], bool] = {}


def row_object_safe(model: type[Model]) -> bool:
    """Say whether every column of ``model`` is stored by assignment as ``row_object`` stores it."""
    safe = _safe.get(model)
    if safe is None:
        safe = _safe[model] = all(
            type(getattr(model, field.attname, None)) in _PLAIN_DESCRIPTORS
            for field in model._meta.concrete_fields
        )
    return safe


def row_object(model: type[_M], db: str | None, field_names: Collection[str], values: Iterable[Any]) -> _M:
    """Return ``model.from_db(db, field_names, values)`` as Django's ``Model.from_db`` builds it."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model) or not row_object_safe(model):
        # Django's own from_db (classmethod's underlying function, called for this model).
        built: _M = Model.from_db.__func__(model, db, field_names, values)  # type: ignore[attr-defined]
        return built
    obj = model.__new__(model)
    state = obj._state = ModelState()
    state.adding = False
    state.db = db
    # from_db's values come in the order of field_names (Django's documented contract).
    obj.__dict__.update(zip(field_names, values, strict=True))
    return obj
