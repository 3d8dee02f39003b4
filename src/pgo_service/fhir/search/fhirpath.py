"""A small, typed FHIRPath evaluator for the subset used by SearchParameter.expression.

Expressions are compiled once into closures. Compilation walks the FHIR element model
(``Type.path`` -> type names, choice elements keyed ``Type.path[x]``) so that every
result node carries its FHIR type: ``Observation.value as Quantity`` reads the JSON key
``valueQuantity`` and yields nodes typed ``Quantity``. A path the model does not know
is a compile error, never a silently empty result.

Supported: member paths (flattening lists), ``|``, ``and``/``or``, ``=``/``!=``,
``is``/``as`` operators, literals (strings, booleans, numbers), and the functions
``where``, ``exists``, ``empty``, ``not``, ``first``, ``as``, ``ofType``, ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Node = tuple[Any, str]
"""One item of a FHIRPath collection: the JSON value and its FHIR type name."""

_Fn = Callable[[list[Node]], list[Node]]

BOOLEAN = "boolean"
ANY_RESOURCE = "Resource"
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,39}$")


class FhirPathError(ValueError):
    """An expression outside the supported subset, or one the element model rejects."""


def parse_reference(reference: str) -> tuple[str, str] | None:
    """``(type, id)`` of a relative or absolute literal reference, version dropped.

    ``Patient/1``, ``Patient/1/_history/2`` and ``https://x/fhir/Patient/1`` all give
    ``("Patient", "1")``; contained (``#x``), ``urn:`` and malformed ones give None.
    """
    if not reference or reference.startswith(("#", "urn:")):
        return None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    type_, id_ = parts[-2], parts[-1]
    if _TYPE_RE.match(type_) and _ID_RE.match(id_):
        return type_, id_
    return None


def reference_type(reference: Any) -> str | None:
    """The resource type a Reference points at, from its literal reference or ``type``."""
    if not isinstance(reference, dict):
        return None
    literal = reference.get("reference")
    if isinstance(literal, str):
        parsed = parse_reference(literal)
        if parsed is not None:
            return parsed[0]
    declared = reference.get("type")
    return declared if isinstance(declared, str) else None


# --- tokens -------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)|(?P<op>!=|[.()|=,]))"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string" | "number" | "ident" | "op" | "end"
    text: str


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        if expression[position:].strip() == "":
            break
        match = _TOKEN_RE.match(expression, position)
        if match is None or match.end() == position:
            raise FhirPathError(f"unexpected input at {position} in {expression!r}")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    tokens.append(_Token("end", ""))
    return tokens


# --- syntax tree --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any
    type: str


@dataclass(frozen=True, slots=True)
class _Member:
    source: _Ast | None  # None: applied to the context
    name: str


@dataclass(frozen=True, slots=True)
class _Call:
    source: _Ast | None
    name: str
    args: tuple[_Ast, ...]


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: _Ast
    right: _Ast


@dataclass(frozen=True, slots=True)
class _TypeOp:
    op: str  # "is" | "as"
    source: _Ast
    type_name: str


_Ast = _Literal | _Member | _Call | _Binary | _TypeOp

# Lowest binding first, as in the FHIRPath grammar.
_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (("or",), ("and",), ("=", "!="), ("|",))


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.index = 0

    def parse(self) -> _Ast:
        tree = self._binary(0)
        if self._peek().kind != "end":
            raise FhirPathError(f"unexpected {self._peek().text!r} in {self.expression!r}")
        return tree

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.text != text:
            raise FhirPathError(f"expected {text!r}, got {token.text!r} in {self.expression!r}")

    def _binary(self, level: int) -> _Ast:
        if level == len(_BINARY_LEVELS):
            return self._type_expression()
        left = self._binary(level + 1)
        while self._peek().kind in ("op", "ident") and self._peek().text in _BINARY_LEVELS[level]:
            op = self._next().text
            left = _Binary(op, left, self._binary(level + 1))
        return left

    def _type_expression(self) -> _Ast:
        tree = self._invocation_chain()
        while self._peek().kind == "ident" and self._peek().text in ("is", "as"):
            op = self._next().text
            tree = _TypeOp(op, tree, self._type_specifier())
        return tree

    def _type_specifier(self) -> str:
        name = self._identifier()
        if name in ("FHIR", "System") and self._peek().text == ".":
            self._next()
            name = self._identifier()
        return name

    def _identifier(self) -> str:
        token = self._next()
        if token.kind != "ident":
            raise FhirPathError(f"expected a name, got {token.text!r} in {self.expression!r}")
        return token.text.strip("`")

    def _invocation_chain(self) -> _Ast:
        tree = self._term()
        while self._peek().text == ".":
            self._next()
            tree = self._invocation(tree)
        return tree

    def _term(self) -> _Ast:
        token = self._peek()
        if token.text == "(":
            self._next()
            tree = self._binary(0)
            self._expect(")")
            return tree
        if token.kind == "string":
            self._next()
            return _Literal(_unquote(token.text), "string")
        if token.kind == "number":
            self._next()
            number = Decimal(token.text)
            return _Literal(number, "decimal" if "." in token.text else "integer")
        if token.kind == "ident" and token.text in ("true", "false"):
            self._next()
            return _Literal(token.text == "true", BOOLEAN)
        return self._invocation(None)

    def _invocation(self, source: _Ast | None) -> _Ast:
        name = self._identifier()
        if self._peek().text != "(":
            return _Member(source, name)
        self._next()
        if name in ("as", "ofType", "is"):
            type_name = self._type_specifier()
            self._expect(")")
            return _Call(source, name, (_Literal(type_name, "type"),))
        args: list[_Ast] = []
        if self._peek().text != ")":
            args.append(self._binary(0))
            while self._peek().text == ",":
                self._next()
                args.append(self._binary(0))
        self._expect(")")
        return _Call(source, name, tuple(args))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


# --- compilation --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    fn: _Fn
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A compiled expression: call ``evaluate`` with a resource (a parsed JSON dict)."""

    expression: str
    root_type: str
    types: frozenset[str]  # the FHIR types the result can have
    _fn: _Fn

    def evaluate(self, resource: Mapping[str, Any]) -> list[Node]:
        return self._fn([(resource, self.root_type)])


class FhirPathCompiler:
    """Compiles expressions against one element model, caching per (expression, root)."""

    def __init__(self, elements: Mapping[str, Sequence[str]]) -> None:
        self._elements = elements
        self._cache: dict[tuple[str, str], CompiledPath] = {}

    def compile(self, expression: str, root_type: str) -> CompiledPath:
        key = (expression, root_type)
        cached = self._cache.get(key)
        if cached is None:
            tree = _Parser(expression).parse()
            compiled = _Compilation(self._elements, root_type, expression).compile(
                tree, frozenset({root_type}), top=True
            )
            cached = CompiledPath(expression, root_type, compiled.types, compiled.fn)
            self._cache[key] = cached
        return cached


class _Compilation:
    def __init__(self, elements: Mapping[str, Sequence[str]], root: str, expression: str) -> None:
        self.elements = elements
        self.root = root
        self.expression = expression

    def fail(self, message: str) -> FhirPathError:
        return FhirPathError(f"{message} in {self.expression!r}")

    def compile(self, tree: _Ast, context: frozenset[str], top: bool = False) -> _Compiled:
        if isinstance(tree, _Literal):
            return self._literal(tree)
        if isinstance(tree, _Member):
            return self._member(tree, context, top)
        if isinstance(tree, _Call):
            return self._call(tree, context, top)
        if isinstance(tree, _TypeOp):
            source = self.compile(tree.source, context, top)
            return self._type_op(tree.op, source, tree.type_name)
        return self._binary(tree, context, top)

    def _source(self, source: _Ast | None, context: frozenset[str], top: bool) -> _Compiled:
        if source is None:
            return _Compiled(_identity, context)
        return self.compile(source, context, top)

    def _literal(self, literal: _Literal) -> _Compiled:
        value, type_ = literal.value, literal.type
        return _Compiled(lambda _nodes: [(value, type_)], frozenset({type_}))

    def _member(self, member: _Member, context: frozenset[str], top: bool) -> _Compiled:
        if member.source is None and top and member.name in (self.root, ANY_RESOURCE):
            return _Compiled(_identity, context)
        source = self._source(member.source, context, top)
        table: dict[str, tuple[tuple[str, str], ...]] = {}
        for type_ in source.types:
            steps = self._steps(type_, member.name)
            if steps:
                table[type_] = steps
        if not table:
            raise self.fail(f"unknown element {member.name!r} on {sorted(source.types)}")
        types = frozenset(out for steps in table.values() for _, out in steps)
        return _Compiled(_chain(source.fn, _member_step(table)), types)

    def _steps(self, type_: str, name: str) -> tuple[tuple[str, str], ...]:
        """(JSON key, result type) pairs for ``type_.name``."""
        path = f"{type_}.{name}"
        single = self.elements.get(path)
        if single is not None:
            return tuple((name, out) for out in single)
        choice = self.elements.get(path + "[x]")
        if choice is not None:
            return tuple((name + out[0].upper() + out[1:], out) for out in choice)
        return ()

    def _type_op(self, op: str, source: _Compiled, type_name: str) -> _Compiled:
        if op == "is":
            return _Compiled(_chain(source.fn, _is_step(type_name)), frozenset({BOOLEAN}))
        if type_name not in source.types and ANY_RESOURCE not in source.types:
            raise self.fail(f"{type_name!r} is not one of {sorted(source.types)}")
        return _Compiled(_chain(source.fn, _of_type_step(type_name)), frozenset({type_name}))

    def _call(self, call: _Call, context: frozenset[str], top: bool) -> _Compiled:
        source = self._source(call.source, context, top)
        if call.name in ("as", "ofType", "is"):
            type_name = call.args[0]
            assert isinstance(type_name, _Literal)
            return self._type_op("is" if call.name == "is" else "as", source, type_name.value)
        if call.name == "where":
            if len(call.args) != 1:
                raise self.fail("where() takes one argument")
            criteria = self.compile(call.args[0], source.types)
            return _Compiled(_chain(source.fn, _where_step(criteria.fn)), source.types)
        simple = _SIMPLE_FUNCTIONS.get(call.name)
        if simple is None or call.args:
            raise self.fail(f"unsupported function {call.name}()")
        step, result_type = simple
        types = source.types if result_type is None else frozenset({result_type})
        return _Compiled(_chain(source.fn, step), types)

    def _binary(self, tree: _Binary, context: frozenset[str], top: bool) -> _Compiled:
        left = self.compile(tree.left, context, top)
        right = self.compile(tree.right, context, top)
        if tree.op == "|":
            return _Compiled(_union(left.fn, right.fn), left.types | right.types)
        combine = _BOOLEAN_OPERATORS[tree.op]
        return _Compiled(_combined(left.fn, right.fn, combine), frozenset({BOOLEAN}))


# --- runtime steps ------------------------------------------------------------------


def _identity(nodes: list[Node]) -> list[Node]:
    return nodes


def _chain(first: _Fn, second: _Fn) -> _Fn:
    if first is _identity:
        return second
    return lambda nodes: second(first(nodes))


def _member_step(table: Mapping[str, Sequence[tuple[str, str]]]) -> _Fn:
    if len(table) == 1:
        ((_only_type, steps),) = table.items()
        if len(steps) == 1:
            return _single_member_step(*steps[0])

    def step(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for value, type_ in nodes:
            steps = table.get(type_)
            if steps is None or not isinstance(value, dict):
                continue
            for key, result_type in steps:
                child = value.get(key)
                if child is None:
                    continue
                if isinstance(child, list):
                    out.extend((item, result_type) for item in child if item is not None)
                else:
                    out.append((child, result_type))
        return out

    return step


def _single_member_step(key: str, result_type: str) -> _Fn:
    """The common case: one input type, one key (the input's type is known statically)."""

    def step(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for value, _type in nodes:
            child = value.get(key) if isinstance(value, dict) else None
            if child is None:
                continue
            if isinstance(child, list):
                out.extend([(item, result_type) for item in child if item is not None])
            else:
                out.append((child, result_type))
        return out

    return step


def _of_type_step(type_name: str) -> _Fn:
    return lambda nodes: [node for node in nodes if node[1] == type_name]


def _is_step(type_name: str) -> _Fn:
    def step(nodes: list[Node]) -> list[Node]:
        if not nodes:
            return []
        return [(nodes[0][1] == type_name, BOOLEAN)]

    return step


def _where_step(criteria: _Fn) -> _Fn:
    def step(nodes: list[Node]) -> list[Node]:
        return [node for node in nodes if _is_true(criteria([node]))]

    return step


def _is_true(nodes: list[Node]) -> bool:
    return len(nodes) == 1 and nodes[0][0] is True


def _resolve(nodes: list[Node]) -> list[Node]:
    """References "resolve" to themselves, typed by the resource type they point at."""
    out: list[Node] = []
    for value, _type in nodes:
        target = reference_type(value)
        if target is not None:
            out.append((value, target))
    return out


_SIMPLE_FUNCTIONS: dict[str, tuple[_Fn, str | None]] = {
    "exists": (lambda nodes: [(bool(nodes), BOOLEAN)], BOOLEAN),
    "empty": (lambda nodes: [(not nodes, BOOLEAN)], BOOLEAN),
    "not": (lambda nodes: [(not nodes[0][0], BOOLEAN)] if len(nodes) == 1 else [], BOOLEAN),
    "first": (lambda nodes: nodes[:1], None),
    "resolve": (_resolve, ANY_RESOURCE),
}


def _union(left: _Fn, right: _Fn) -> _Fn:
    def step(nodes: list[Node]) -> list[Node]:
        return _distinct([*left(nodes), *right(nodes)])

    return step


def _distinct(nodes: Iterable[Node]) -> list[Node]:
    seen: set[object] = set()
    out: list[Node] = []
    for value, type_ in nodes:
        key = (id(value), type_) if isinstance(value, dict | list) else (type(value), value, type_)
        if key not in seen:
            seen.add(key)
            out.append((value, type_))
    return out


_Tri = bool | None  # three-valued logic: None is "empty"


def _combined(left: _Fn, right: _Fn, combine: Callable[[list[Node], list[Node]], _Tri]) -> _Fn:
    def step(nodes: list[Node]) -> list[Node]:
        result = combine(left(nodes), right(nodes))
        return [] if result is None else [(result, BOOLEAN)]

    return step


def _truth(nodes: list[Node]) -> _Tri:
    if not nodes:
        return None
    if len(nodes) == 1 and isinstance(nodes[0][0], bool):
        return nodes[0][0]
    return True  # a non-empty, non-boolean singleton counts as true


def _and(left: list[Node], right: list[Node]) -> _Tri:
    a, b = _truth(left), _truth(right)
    if a is False or b is False:
        return False
    return True if a and b else None


def _or(left: list[Node], right: list[Node]) -> _Tri:
    a, b = _truth(left), _truth(right)
    if a or b:
        return True
    return False if a is False and b is False else None


def _equals(left: list[Node], right: list[Node]) -> _Tri:
    if not left or not right:
        return None
    if len(left) != len(right):
        return False
    return all(_same(a[0], b[0]) for a, b in zip(left, right, strict=True))


def _not_equals(left: list[Node], right: list[Node]) -> _Tri:
    result = _equals(left, right)
    return None if result is None else not result


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


_BOOLEAN_OPERATORS: dict[str, Callable[[list[Node], list[Node]], _Tri]] = {
    "and": _and,
    "or": _or,
    "=": _equals,
    "!=": _not_equals,
}
