"""The list filter and order_by languages (AIP-160 subset), parsed into typed trees.

Grammar:  expr := term (OR term)* ; term := factor (AND factor)* ;
          factor := NOT factor | '(' expr ')' | field op value
Fields are plain (`stage`) or keyed (`tags.team`, `metrics.auc`). Values are numbers, quoted
strings, or bare words (enum values, simple strings). Times are quoted RFC 3339 strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from modelyard.v1 import errors_pb2 as reasons

from modelyard_server.domain.errors import InvalidArgument, quote

MAX_FILTER = 4096
MAX_TERMS = 32
# Parentheses and NOTs nest at most this deep: the parser and the SQL built from the tree
# recurse once per level, and Python's stack is not for the caller to exhaust.
MAX_DEPTH = 32


class Kind(Enum):
    INT = "an integer"
    FLOAT = "a number"
    STRING = "a string"
    TIME = 'an RFC 3339 time such as "2026-01-31T00:00:00Z"'
    ENUM = "an enum value"
    # A set of version names (e.g. depends_on): = asks whether it holds the value.
    VERSION = 'a version name such as "groups/encoder/versions/3"'


@dataclass(frozen=True)
class FieldSpec:
    """A field a list can filter or order by: `name` is the field, `key` the map key, if any."""

    name: str
    kind: Kind
    enum: EnumTypeWrapper | type[Any] | None = None
    enum_prefix: str = ""
    orderable: bool = False
    key: str | None = None


@dataclass(frozen=True)
class Comparison:
    field: FieldSpec
    op: str  # one of = != < <= > >=
    value: int | float | str


@dataclass(frozen=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    term: Node


Node = Comparison | And | Or | Not


@dataclass(frozen=True)
class Ordering:
    field: FieldSpec
    descending: bool


@dataclass(frozen=True)
class Schema:
    """What a resource's lists accept: plain fields and map fields (`prefix.<key>`)."""

    fields: Mapping[str, FieldSpec]
    maps: Mapping[str, FieldSpec]
    default_order: Ordering

    def resolve(self, path: str, error_reason: reasons.ErrorReason.ValueType) -> FieldSpec:
        if path in self.fields:
            return self.fields[path]
        prefix, dot, key = path.partition(".")
        if dot and prefix in self.maps and key:
            spec = self.maps[prefix]
            return FieldSpec(spec.name, spec.kind, orderable=spec.orderable, key=key)
        known = sorted([*self.fields, *(f"{m}.<key>" for m in self.maps)])
        raise InvalidArgument(
            error_reason, f"unknown field {quote(path)}; known fields: {', '.join(known)}"
        )


TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<paren>[()])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.\-]))
      | (?P<word>[A-Za-z_][\w.\-]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if not match or match.lastgroup is None:
            where = len(text[:pos]) + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"cannot read the filter at position {where}: {quote(text[where : where + 20])}",
            )
        kind = match.lastgroup
        token_text, start = match.group(kind), match.start(kind)
        if kind == "word" and token_text.upper() in KEYWORDS:
            kind, token_text = "keyword", token_text.upper()
        tokens.append(Token(kind, token_text, start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.schema = schema
        self.comparisons = 0
        self.depth = 0

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        """Counts one level of nesting (a parenthesis or a NOT) while the block parses it."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"the filter nests parentheses and NOTs more than {MAX_DEPTH} deep "
                f"(at position {token.pos}); write it flatter",
            )
        try:
            yield
        finally:
            self.depth -= 1

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                "the filter ends too early: a comparison like `stage = PRODUCTION` is incomplete",
            )
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.expr()
        extra = self.peek()
        if extra is not None:
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"unexpected {quote(extra.text)} at position {extra.pos}; join comparisons with AND or OR",
            )
        return node

    def expr(self) -> Node:
        terms = [self.term()]
        while (t := self.peek()) is not None and t.kind == "keyword" and t.text == "OR":
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def term(self) -> Node:
        factors = [self.factor()]
        while (t := self.peek()) is not None and (t.kind == "keyword" and t.text == "AND"):
            self.take()
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else And(tuple(factors))

    def factor(self) -> Node:
        token = self.take()
        if token.kind == "keyword" and token.text == "NOT":
            with self.nested(token):
                return Not(self.factor())
        if token.kind == "paren" and token.text == "(":
            with self.nested(token):
                node = self.expr()
            close = self.take()
            if close.text != ")":
                raise InvalidArgument(
                    reasons.INVALID_FILTER, f"expected ')' at position {close.pos}"
                )
            return node
        if token.kind != "word":
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"expected a field name at position {token.pos}, found {quote(token.text)}",
            )
        self.comparisons += 1
        if self.comparisons > MAX_TERMS:
            raise InvalidArgument(
                reasons.INVALID_FILTER, f"the filter has more than {MAX_TERMS} comparisons"
            )
        field = self.schema.resolve(token.text, reasons.INVALID_FILTER)
        op = self.take()
        if op.kind != "op":
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"expected an operator (= != < <= > >=) after {quote(token.text)}, found {quote(op.text)}",
            )
        value = self.take()
        return Comparison(field, op.text, _value(field, token.text, op.text, value))


def _unquote(token: Token) -> str:
    if token.kind == "string":
        body = token.text[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    return token.text


def _value(field: FieldSpec, path: str, op: str, token: Token) -> int | float | str:
    if token.kind not in {"string", "number", "word"}:
        raise InvalidArgument(
            reasons.INVALID_FILTER,
            f"expected a value after {quote(f'{path} {op}')}, found {quote(token.text)}",
        )
    problem = f"{quote(path)} compares with {field.kind.value}, not {quote(token.text)}"
    if field.kind is Kind.INT:
        if token.kind != "number" or not re.fullmatch(r"-?[0-9]+", token.text):
            raise InvalidArgument(reasons.INVALID_FILTER, problem)
        number = int(token.text) if len(token.text) <= 20 else 2**63
        if not -(2**63) <= number < 2**63:  # what the database's integers hold
            raise InvalidArgument(
                reasons.INVALID_FILTER, f"{quote(token.text)} is out of range for {quote(path)}"
            )
        return number
    if field.kind is Kind.FLOAT:
        if token.kind != "number":
            raise InvalidArgument(reasons.INVALID_FILTER, problem)
        return float(token.text)
    if field.kind is Kind.TIME:
        try:
            moment = datetime.fromisoformat(_unquote(token).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(reasons.INVALID_FILTER, problem) from None
        if moment.tzinfo is None:
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"the time for {quote(path)} needs a zone, e.g. a trailing Z",
            )
        return int(moment.timestamp() * 1_000_000)
    if field.kind is Kind.VERSION:
        if op not in {"=", "!="}:
            raise InvalidArgument(reasons.INVALID_FILTER, f"'{path}' supports only = and !=")
        parts = _unquote(token).split("/")
        if not (
            len(parts) == 4
            and parts[0] == "groups"
            and parts[2] == "versions"
            and re.fullmatch(r"[a-z][a-z0-9-]{0,62}", parts[1])
            and re.fullmatch(r"[0-9]{1,18}", parts[3])
            and int(parts[3]) >= 1
        ):
            raise InvalidArgument(reasons.INVALID_FILTER, problem)
        return f"groups/{parts[1]}/versions/{int(parts[3])}"
    if field.kind is Kind.ENUM:
        assert field.enum is not None
        if op not in {"=", "!="}:
            raise InvalidArgument(reasons.INVALID_FILTER, f"{quote(path)} supports only = and !=")
        word = _unquote(token).upper()
        name = word if word.startswith(field.enum_prefix) else field.enum_prefix + word
        known = [n for n in field.enum.keys() if not n.endswith("_UNSPECIFIED")]  # noqa: SIM118
        if name not in known:
            allowed = [n.removeprefix(field.enum_prefix) for n in known]
            raise InvalidArgument(
                reasons.INVALID_FILTER,
                f"{quote(word)} is not a value of {quote(path)}; use one of {', '.join(allowed)}",
            )
        return int(field.enum.Value(name))
    return _unquote(token)


def parse_filter(text: str, schema: Schema) -> Node | None:
    """Returns the typed tree of a filter expression, or None for an empty filter."""
    if len(text) > MAX_FILTER:
        raise InvalidArgument(
            reasons.INVALID_FILTER, f"the filter is longer than {MAX_FILTER} characters"
        )
    if not text.strip():
        return None
    return _Parser(text, schema).parse()


def parse_order_by(text: str, schema: Schema) -> Ordering:
    """Returns the ordering that `order_by` asks for (one field, `asc` or `desc`)."""
    words = text.replace(",", " , ").split()
    if not words:
        return schema.default_order
    if "," in words:
        raise InvalidArgument(
            reasons.INVALID_ORDER_BY, "order by one field only; ties are broken by creation order"
        )
    if len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
        raise InvalidArgument(
            reasons.INVALID_ORDER_BY, f"{quote(text)} is not `<field> [asc|desc]`"
        )
    field = schema.resolve(words[0], reasons.INVALID_ORDER_BY)
    if not field.orderable:
        orderable = sorted(
            [n for n, f in schema.fields.items() if f.orderable]
            + [f"{m}.<key>" for m, f in schema.maps.items() if f.orderable]
        )
        raise InvalidArgument(
            reasons.INVALID_ORDER_BY,
            f"cannot order by {quote(words[0])}; use one of {', '.join(orderable)}",
        )
    return Ordering(field, len(words) == 2 and words[1].lower() == "desc")
