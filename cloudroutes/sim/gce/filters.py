"""The `filter` query parameter of GCE list calls, compiled to a predicate over a resource's JSON.

GCE accepts two styles that cannot be mixed (cloud-api-facts §2):

* regex form: `name eq 'c1-.*'`, `(name eq c1-.*) (description ne other)`; the value, quoted or not, is a
  regular expression that must match the *whole* field; parenthesised terms are ANDed by juxtaposition.
* AIP-160 form: `name = "x"`, `!=`, `:` (substring; `:*` means "has a value"), `<`, `<=`, `>`, `>=`,
  nested fields (`labels.env = prod`), terms joined by juxtaposition, `AND`, `OR`, `NOT`/`-`, parentheses.

Anything else is a 400, so a typo in a caller's filter fails loudly instead of silently matching nothing.
Pure functions; no state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cloudroutes.sim.gce import errors

Predicate = Callable[[Mapping[str, Any]], bool]

_FIELD = re.compile(r"[A-Za-z_][\w.\-]*")
_REGEX_OP = re.compile(r"(eq|ne)(?=[\s'\"])")
_AIP_OP = re.compile(r"!=|>=|<=|=|<|>|:")
_KEYWORD_END = re.compile(r"(?=[\s(])")


def compile_filter(text: str, fields: Iterable[str]) -> Predicate:
    """Compile `text`; `fields` are the resource's top-level field names a term may start with."""
    parser = _Parser(text, frozenset(fields))
    try:
        return parser.parse()
    except re.error as exc:
        raise _invalid(text, f"bad regular expression ({exc})") from exc


def _invalid(text: str, why: str) -> errors.ApiError:
    return errors.invalid_value("filter", text, f"Invalid list filter expression: {why}.")


class _Parser:
    """Recursive descent over characters: regex values may contain anything, so there is no tokenizer."""

    def __init__(self, text: str, fields: frozenset[str]) -> None:
        self.text = text
        self.fields = fields
        self.pos = 0
        self.styles: set[str] = set()
        self.keywords = False

    def parse(self) -> Predicate:
        self._skip_space()
        if self._at_end():
            return lambda _resource: True
        predicate = self._or()
        self._skip_space()
        if not self._at_end():
            raise self._error(f"unexpected text at offset {self.pos}")
        if self.styles == {"regex", "aip"}:
            raise self._error("the eq/ne form cannot be mixed with =, !=, : comparisons")
        if "regex" in self.styles and self.keywords:
            raise self._error("AND, OR and NOT are not supported with the eq/ne form")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while True:
            self._skip_space()
            if self._at_end() or self._peek(")") or self._peek_keyword("OR"):
                break
            self._keyword("AND")
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _unary(self) -> Predicate:
        self._skip_space()
        if self._keyword("NOT") or self._take("-"):
            self.keywords = True
            inner = self._unary()
            return lambda r: not inner(r)
        if self._take("("):
            inner = self._or()
            self._skip_space()
            if not self._take(")"):
                raise self._error("missing ')'")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        match = _FIELD.match(self.text, self.pos)
        if match is None:
            raise self._error(f"expected a field name at offset {self.pos}")
        field = match.group()
        if field.split(".")[0] not in self.fields:
            raise self._error(f"unknown field '{field}'")
        self.pos = match.end()
        self._skip_space()
        if op := self._match(_REGEX_OP):
            self.styles.add("regex")
            return _regex_term(field, op, self._regex_value())
        if op := self._match(_AIP_OP):
            self.styles.add("aip")
            return _aip_term(field, op, self._aip_value())
        raise self._error(f"expected an operator after '{field}'")

    def _regex_value(self) -> str:
        self._skip_space()
        if quoted := self._quoted():
            return quoted[0]
        # Unquoted: up to the ')' that closes the term, so a regex may itself hold balanced parentheses.
        start, depth = self.pos, 0
        while not self._at_end():
            char = self.text[self.pos]
            if char == ")" and depth == 0:
                break
            depth += {"(": 1, ")": -1}.get(char, 0)
            self.pos += 1
        value = self.text[start : self.pos].strip()
        if not value:
            raise self._error("missing value")
        return value

    def _aip_value(self) -> str:
        self._skip_space()
        if quoted := self._quoted():
            return quoted[0]
        match = re.compile(r"[^\s()]+").match(self.text, self.pos)
        if match is None:
            raise self._error("missing value")
        self.pos = match.end()
        return match.group()

    def _quoted(self) -> tuple[str] | None:
        if self._at_end() or self.text[self.pos] not in "'\"":
            return None
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self._error("unterminated quoted value")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return (value,)

    def _keyword(self, word: str) -> bool:
        if not self._peek_keyword(word):
            return False
        self.pos += len(word)
        self.keywords = True
        return True

    def _peek_keyword(self, word: str) -> bool:
        self._skip_space()
        end = self.pos + len(word)
        return self.text.startswith(word, self.pos) and bool(_KEYWORD_END.match(self.text, end))

    def _match(self, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def _take(self, char: str) -> bool:
        if self._peek(char):
            self.pos += 1
            return True
        return False

    def _peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def _skip_space(self) -> None:
        while not self._at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def _error(self, why: str) -> errors.ApiError:
        return _invalid(self.text, why)


def _values(resource: Mapping[str, Any], field: str) -> list[Any]:
    """The leaf values at a dotted path; a repeated field yields one value per element."""
    found: list[Any] = [resource]
    for part in field.split("."):
        step: list[Any] = []
        for value in found:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping) and part in item:
                    step.append(item[part])
        found = step
    return [leaf for value in found for leaf in (value if isinstance(value, list) else [value])]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _regex_term(field: str, op: str, pattern: str) -> Predicate:
    compiled = re.compile(pattern)

    def term(resource: Mapping[str, Any]) -> bool:
        # An absent field compares as the empty string, so `ne` matches resources that lack it.
        texts = [_text(v) for v in _values(resource, field)] or [""]
        hit = any(compiled.fullmatch(t) for t in texts)
        return hit if op == "eq" else not hit

    return term


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(left: str, op: str, right: str) -> bool:
    numbers = (_number(left), _number(right))
    a, b = numbers if None not in numbers else (left, right)
    if op == "=":
        return a == b
    if op == ":":
        return right in left if isinstance(a, str) else a == b
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]  # type: ignore[operator]


def _aip_term(field: str, op: str, value: str) -> Predicate:
    def term(resource: Mapping[str, Any]) -> bool:
        texts = [_text(v) for v in _values(resource, field)]
        if op == ":" and value == "*":
            return bool(texts)
        if op == "!=":
            return not any(_compare(t, "=", value) for t in texts)
        return any(_compare(t, op, value) for t in texts)

    return term
