"""Filter trees and orderings turned into SQL expressions, and keyset conditions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from modelyard.v1 import errors_pb2 as reasons
from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, true, tuple_

from modelyard_server.domain.errors import InvalidArgument
from modelyard_server.domain.filters import (
    And,
    Comparison,
    FieldSpec,
    Kind,
    Node,
    Not,
    Or,
    Ordering,
)
from modelyard_server.domain.pages import fit
from modelyard_server.domain.repositories import Encoded, EncodedSlice, Key

Columns = Callable[[FieldSpec], ColumnElement[Any]]
# The condition that a set-valued field (Kind.VERSION) holds a value.
Members = Callable[[FieldSpec, str], ColumnElement[bool]]
T = TypeVar("T")


def condition(
    node: Node, column_of: Columns, member_of: Members | None = None
) -> ColumnElement[bool]:
    """Returns the SQL condition of a filter tree; `member_of` gives set-valued fields'."""
    if isinstance(node, And):
        return and_(true(), *(condition(t, column_of, member_of) for t in node.terms))
    if isinstance(node, Or):
        return or_(false(), *(condition(t, column_of, member_of) for t in node.terms))
    if isinstance(node, Not):
        return not_(condition(node.term, column_of, member_of))
    if node.field.kind is Kind.VERSION:
        assert member_of is not None, f"no set of values for '{node.field.name}'"
        holds = member_of(node.field, str(node.value))
        return holds if node.op == "=" else not_(holds)
    return _compare(node, column_of(node.field))


def _compare(node: Comparison, column: ColumnElement[Any]) -> ColumnElement[bool]:
    value = node.value
    op = node.op
    if op == "=":
        return column == value
    if op == "!=":
        # A map key the resource lacks is "not equal" to any value.
        if node.field.key is not None:
            return or_(column.is_(None), column != value)
        return column != value
    comparisons = {
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }
    return comparisons[op]


def sort_columns(
    order: Ordering, column_of: Columns, tiebreak: ColumnElement[Any]
) -> list[tuple[ColumnElement[Any], bool]]:
    """Returns the columns to sort by, each with its direction; the last is a unique tiebreak."""
    column = column_of(order.field)
    if order.field.key is not None:
        # Resources without the key sort last in either direction.
        missing = case((column.is_(None), 1), else_=0)
        present = func.coalesce(column, 0.0)
        return [(missing, False), (present, order.descending), (tiebreak, order.descending)]
    return [(column, order.descending), (tiebreak, order.descending)]


def after_key(columns: Sequence[tuple[ColumnElement[Any], bool]], key: Key) -> ColumnElement[bool]:
    """Returns the condition that selects rows strictly after `key` in the given order."""
    check_key(columns, key)
    return after(columns, key)


def check_key(columns: Sequence[tuple[ColumnElement[Any], bool]], key: Key) -> None:
    """Raises INVALID_PAGE_TOKEN unless `key` is a sort key of the given columns."""
    if len(key) != len(columns) or not all(
        _fits(column, value) for (column, _), value in zip(columns, key, strict=True)
    ):
        raise InvalidArgument(
            reasons.INVALID_PAGE_TOKEN,
            "the page_token does not fit this query; start again without it",
        )


def after(
    columns: Sequence[tuple[ColumnElement[Any], bool]], key: Sequence[Any]
) -> ColumnElement[bool]:
    """Returns the condition that selects rows strictly after `key` (values, or parameters
    that will hold them) in the given order."""
    directions = {desc for _, desc in columns}
    if len(directions) == 1:
        left = tuple_(*(c for c, _ in columns))
        right = tuple_(*key)
        return left < right if directions.pop() else left > right
    alternatives: list[ColumnElement[bool]] = []
    for i, (column, desc) in enumerate(columns):
        equal = [c == k for (c, _), k in zip(columns[:i], key[:i], strict=True)]
        step = column < key[i] if desc else column > key[i]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


def _fits(column: ColumnElement[Any], value: object) -> bool:
    """Whether a key value from a page token has the type of its column: the token is the
    caller's to forge, and PostgreSQL refuses to compare a name with a number."""
    try:
        expected = column.type.python_type
    except NotImplementedError:  # an expression of no particular type
        return True
    if isinstance(value, bool) or value is None:
        return False
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def order_clause(columns: Sequence[tuple[ColumnElement[Any], bool]]) -> list[ColumnElement[Any]]:
    return [c.desc() if desc else c.asc() for c, desc in columns]


def page_of(rows: Sequence[Any], limit: int, parse: Callable[[bytes], T]) -> EncodedSlice[T]:
    """Returns a page of rows of (body, *sort key) fetched with `limit + 1`: the items that
    fit in one response, as stored, and the sort key to resume after when more remain."""
    bodies = [row[0] for row in rows[:limit]]
    count = fit(len(body) for body in bodies)
    resume = tuple(rows[count - 1][1:]) if len(rows) > count else None
    return EncodedSlice(Encoded(parse, bodies[:count]), resume)
