"""One-row lookups and inserts compiled to SQL once per database connection, then only executed.

The protocol endpoints each find one row by one indexed value (an access token by its checksum,
a client by its client_id). Django compiles a queryset's SQL anew on every evaluation; for a
``select_related`` row of some 80 columns that compilation cost more CPU than the rest of the
request (``make bench PROFILE=userinfo``; docs/performance.md). A ``PreparedLookup`` compiles its queryset
once, keeps the SQL, the column converters and the related-object populators Django's
``ModelIterable`` would build, and per call only swaps the value in, executes and builds the
objects the way ``ModelIterable`` does. On PostgreSQL the statement is also prepared on the server
once per connection (``statement_cursor``: PostgreSQL's planning of a joined row cost more than
running it). The statement goes through Django's cursor wrapper, so query logging,
``assertNumQueries`` and execute wrappers see it like any other.

A ``PreparedInsert`` saves a new row the same way: the token endpoint's INSERT of the access
token, which Django's ``Model.save()`` compiled anew for every token (and PostgreSQL planned
anew). It does what ``save()`` does for a new row of a model without parents (each field's
``pre_save`` and database value, the related objects' checks, the primary key read back with
``RETURNING``) and nothing for what such a row never needs; a model with ``pre_save`` or
``post_save`` receivers, or a row that already has its primary key, goes through ``save()``. For
rows a caller knows column by column (a client_credentials token), ``insert`` takes the values
without a model object: no ``Model.__init__``, no ``pre_save``, and the columns every such row
has alike (``fixed``) prepared for the database once per connection instead of once per row.
"""

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet
from django.db.models.expressions import Expression

# A private helper of Django's ModelIterable, absent from django-stubs; typed by _Populator below.
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLCompiler

_M = TypeVar("_M", bound=Model)

# Stands for the looked-up value while the SQL is compiled; its position in the parameters is
# where each call's value goes.
PLACEHOLDER = "\x00prepared-lookup-value\x00"


class _Populator(Protocol):
    """Django's RelatedPopulator: sets one ``select_related`` object on the row's object."""

    def populate(self, row: Sequence[Any], from_obj: Model) -> None: ...


@dataclass(frozen=True)
class _Compiled:
    connection: BaseDatabaseWrapper
    compiler: SQLCompiler
    sql: str
    params: tuple[str | int, ...]
    position: int
    converters: dict[int, tuple[list[Callable[..., Any]], Expression]]
    init_list: list[str]
    fields: slice
    populators: list[_Populator]
    # How many columns the statement selects, and which of them is the row's primary key.
    width: int
    pk: int

    def params_for(self, value: str) -> list[str | int]:
        """Return the statement's parameters for looking ``value`` up."""
        params = list(self.params)
        params[self.position] = value
        return params


class _PerConnection(Protocol):
    @property
    def connection(self) -> BaseDatabaseWrapper: ...


_C = TypeVar("_C", bound=_PerConnection)


def per_connection(
    local: threading.local,
    alias: str,
    compile_for: Callable[[], _C],
    connection: BaseDatabaseWrapper | None = None,
) -> _C:
    """Return what ``compile_for`` made for this thread's ``alias`` connection, made once per connection.

    Django's connections are per thread (gthread workers), so is what is compiled for them; a
    connection replaced (closed and opened again) is the same wrapper, and keeps it. A caller
    that holds ``connections[alias]`` already passes it as ``connection``.
    """
    compiled: _C | None = getattr(local, alias, None)
    if connection is None:
        connection = connections[alias]
    if compiled is None or compiled.connection is not connection:
        compiled = compile_for()
        setattr(local, alias, compiled)
    return compiled


def statement_cursor(connection: BaseDatabaseWrapper) -> Any:
    """Return a cursor for one of the hot statements: prepared on PostgreSQL (ground/postgresql)."""
    prepared_cursor = getattr(connection, "prepared_cursor", None)
    return prepared_cursor() if prepared_cursor is not None else connection.cursor()


class PreparedLookup(Generic[_M]):
    """Find at most one ``model`` row with a queryset that ``build(value)`` filters by ``value``."""

    def __init__(self, model: type[_M], build: Callable[[str], QuerySet[_M]]):
        self.model = model
        self.build = build
        # Django's connections are per thread (gthread workers), so is what is compiled for them.
        self.local = threading.local()

    def first(self, value: str) -> _M | None:
        """Return the row the lookup finds for ``value``, or None."""
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        compiled = self.compiled(alias, connection)
        params = compiled.params_for(value)
        with statement_cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = next(compiled.compiler.apply_converters([row], compiled.converters))
        return self.built(compiled, alias, row)

    def compiled(self, alias: str, connection: BaseDatabaseWrapper | None = None) -> _Compiled:
        """Return what this lookup compiled for ``alias``'s connection (compiling it now if need be)."""
        return per_connection(self.local, alias, lambda: self._compile(alias), connection)

    def built(self, compiled: _Compiled, alias: str, row: Sequence[Any]) -> _M:
        """Return the object of one converted row of this lookup's columns, as ModelIterable builds it."""
        obj = self.model.from_db(alias, compiled.init_list, row[compiled.fields])
        for populator in compiled.populators:
            populator.populate(row, obj)
        return obj

    def _compile(self, alias: str) -> _Compiled:
        # As ModelIterable.__iter__ does (django/db/models/query.py), once.
        queryset = self.build(PLACEHOLDER)
        # The first row in the queryset's own order if it sets one; a model's default order
        # would only cost a sort.
        if not queryset.query.order_by:
            queryset = queryset.order_by()
        compiler = queryset[:1].query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        select, klass_info = compiler.select, compiler.klass_info
        if params.count(PLACEHOLDER) != 1 or compiler.annotation_col_map or compiler.has_extra_select:
            raise ValueError(f"{self.model.__name__}: a prepared lookup takes one value and no annotations")
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            connection=connections[alias],
            compiler=compiler,
            sql=sql,
            params=tuple(params),
            position=list(params).index(PLACEHOLDER),
            converters=compiler.get_converters([column[0] for column in select[: compiler.col_count]]),
            init_list=[column[0].target.attname for column in select[start:end]],
            fields=slice(start, end),
            populators=get_related_populators(klass_info, select, alias),
            width=compiler.col_count,
            pk=start + [column[0].target for column in select[start:end]].index(self.model._meta.pk),
        )


_N = TypeVar("_N", bound=Model)


@dataclass(frozen=True)
class _CompiledPair:
    connection: BaseDatabaseWrapper
    sql: str
    converters: dict[int, tuple[list[Callable[..., Any]], Expression]]


class PreparedPair(Generic[_M, _N]):
    """Two one-row lookups by two unrelated values in one statement, one round trip.

    ``find(value, other)`` returns ``first``'s row for ``value`` with ``second``'s for ``other``
    beside it (None when ``second`` finds none), or None when ``first`` finds no row (``second``
    is then not read). The statement selects each lookup's own statement as a subquery, the
    second left-joined to the first on nothing, so each keeps its index and its columns; on
    PostgreSQL it is prepared once per connection too (``statement_cursor``).
    """

    def __init__(self, first: PreparedLookup[_M], second: PreparedLookup[_N]):
        self.first = first
        self.second = second
        self.local = threading.local()

    def find(self, value: str, other: str) -> tuple[_M, _N | None] | None:
        """Return the first lookup's row for ``value`` with the second's for ``other``, or None."""
        alias = router.db_for_read(self.first.model)
        if router.db_for_read(self.second.model) != alias:
            # Rows on two databases: one statement cannot read both.
            found = self.first.first(value)
            return None if found is None else (found, self.second.first(other))
        connection = connections[alias]
        first, second, pair, params = self._statement(alias, value, other)
        with statement_cursor(connection) as cursor:
            cursor.execute(pair.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if pair.converters:
            row = next(first.compiler.apply_converters([row], pair.converters))
        found = self.first.built(first, alias, row[: first.width])
        rest = row[first.width :]
        # Left-joined: the second lookup's columns are NULL, its key too, when it found no row.
        return found, None if rest[second.pk] is None else self.second.built(second, alias, rest)

    def statement(self, value: str, other: str, *, alias: str) -> tuple[str, list[str | int]]:
        """Return the SQL and parameters ``find(value, other)`` runs on ``alias`` in one statement."""
        _, _, pair, params = self._statement(alias, value, other)
        return pair.sql, params

    def _statement(
        self, alias: str, value: str, other: str
    ) -> tuple[_Compiled, _Compiled, _CompiledPair, list[str | int]]:
        first, second = self.first.compiled(alias), self.second.compiled(alias)
        pair = per_connection(self.local, alias, lambda: self._compile(first, second))
        return first, second, pair, first.params_for(value) + second.params_for(other)

    @staticmethod
    def _compile(first: _Compiled, second: _Compiled) -> _CompiledPair:
        quote = first.connection.ops.quote_name
        # Both statements are Django's compiled SQL; every value stays a parameter.
        sql = (
            f"SELECT * FROM ({first.sql}) AS {quote('first_row')} "  # noqa: S608
            f"LEFT JOIN ({second.sql}) AS {quote('second_row')} ON 1 = 1"
        )
        # The second's converters, at its columns' places in the joined row.
        converters = {
            **first.converters,
            **{first.width + place: converter for place, converter in second.converters.items()},
        }
        return _CompiledPair(connection=first.connection, sql=sql, converters=converters)


@dataclass(frozen=True)
class _CompiledInsert:
    connection: BaseDatabaseWrapper
    sql: str
    fields: list[Field[Any, Any]]
    returning: list[Field[Any, Any]]
    # For insert(): the parameters with each fixed column's database value in place, and where
    # each other column's value goes.
    fixed_params: tuple[Any, ...]
    variable: tuple[tuple[int, Field[Any, Any]], ...]


class PreparedInsert(Generic[_M]):
    """Insert new ``model`` rows as ``Model.save()`` does, with the SQL compiled once per connection.

    ``fixed`` names columns (by attname) that every row ``insert`` writes has alike, with their
    values; ``save`` ignores it.
    """

    def __init__(self, model: type[_M], *, fixed: Mapping[str, Any] | None = None):
        self.model = model
        self.fixed = dict(fixed or {})
        self.local = threading.local()

    def insert(self, values: Mapping[str, Any]) -> Any:
        """Insert a new row of the ``fixed`` columns and ``values`` (every other column but the key).

        Return its primary key. The values are what the row stores, as ``save()`` would have them
        after each field's ``pre_save``: the caller gives the time of an ``auto_now`` column, a
        checksum column's checksum. Each goes through its field's ``get_db_prep_save`` as in
        ``save()``. While the model has ``pre_save`` or ``post_save`` receivers, the object is
        built and saved by ``save()`` so that they run.
        """
        model = self.model
        if pre_save.has_listeners(model) or post_save.has_listeners(model):
            obj = model(**self.fixed, **values)
            obj.save()
            return obj.pk
        alias = router.db_for_write(model)
        connection = connections[alias]
        compiled = per_connection(self.local, alias, lambda: self._compile(alias))
        if len(values) != len(compiled.variable):
            raise ValueError(f"{model.__name__}: insert takes every column but the fixed ones and the key")
        params = list(compiled.fixed_params)
        for position, field in compiled.variable:
            params[position] = field.get_db_prep_save(values[field.attname], connection=connection)
        with transaction.mark_for_rollback_on_error(alias), statement_cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        return row[0]

    def save(self, obj: _M) -> None:
        """Insert ``obj``, a new row, and set its primary key (``Model.save()``, without compiling)."""
        model = self.model
        if obj.pk is not None or pre_save.has_listeners(model) or post_save.has_listeners(model):
            obj.save()
            return
        alias = router.db_for_write(model, instance=obj)
        connection = connections[alias]
        compiled = per_connection(self.local, alias, lambda: self._compile(alias))
        # As Model.save(): related objects must be saved, and their keys are read from them.
        obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
        values = []
        for field in compiled.fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                # An expression for a value: Django's compiler turns it into SQL.
                obj.save()
                return
            values.append(field.get_db_prep_save(value, connection=connection))
        with transaction.mark_for_rollback_on_error(alias), statement_cursor(connection) as cursor:
            cursor.execute(compiled.sql, values)
            row = cursor.fetchone()
        for value, field in zip(row, compiled.returning, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = alias

    def _compile(self, alias: str) -> _CompiledInsert:
        # As Model._save_table() and QuerySet._insert() do for a new row, once.
        meta = self.model._meta
        connection = connections[alias]
        fields = [
            field
            for field in meta.local_concrete_fields
            if not field.generated and field is not meta.auto_field
        ]
        if (
            meta.parents
            or not connection.features.can_return_columns_from_insert
            or any(hasattr(field, "get_placeholder") for field in fields)
        ):
            raise ValueError(f"{self.model.__name__}: a prepared insert needs a plain table and RETURNING")
        query = InsertQuery(self.model)
        # Compiled with a blank row: only the SQL is kept, each call prepares its own values.
        query.insert_values(fields, [self.model()])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = meta.db_returning_fields
        [(sql, params)] = compiler.as_sql()
        if len(params) != len(fields):
            raise ValueError(f"{self.model.__name__}: a prepared insert takes one parameter per field")
        unknown = set(self.fixed) - {field.attname for field in fields}
        if unknown:
            raise ValueError(f"{self.model.__name__}: no column to fix among {sorted(unknown)}")
        fixed_params = [
            field.get_db_prep_save(self.fixed[field.attname], connection=connection)
            if field.attname in self.fixed
            else None
            for field in fields
        ]
        return _CompiledInsert(
            connection=connection,
            sql=sql,
            fields=fields,
            returning=list(meta.db_returning_fields),
            fixed_params=tuple(fixed_params),
            variable=tuple(
                (position, field) for position, field in enumerate(fields) if field.attname not in self.fixed
            ),
        )
