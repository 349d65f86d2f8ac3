"""GitHub Actions expressions (`${{ ... }}`, a job's `if:`), evaluated as the runner does,
for the operators and functions IssuePilot's workflows use.

https://docs.github.com/en/actions/reference/workflows-and-actions/expressions: literals
(`null`, booleans, numbers, 'strings' with '' for a quote), property access (`a.b`,
`a['b']`, the `a.*.b` filter), `!`, `==`, `!=`, `&&`, `||` (which return an operand, as in
JavaScript), parentheses, and the functions `contains`, `startsWith`, `endsWith`,
`format` and `fromJSON`. Strings compare without regard to case.
"""

import json
import math
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!()\[\].,*])"
    r"|(?P<name>[A-Za-z_][\w-]*))"
)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SyntaxError(f"cannot read the expression at {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) or (a is None and b is None):
        return bool(a == b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return _number(a) == _number(b)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return "Object" if isinstance(value, dict) else "Array"
    return str(value)


def _format(template: Any, *args: Any) -> str:
    def fill(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return text(args[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", fill, text(template))


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(equal(element, item) for element in search)
    return text(item).casefold() in text(search).casefold()


FUNCTIONS = {
    "contains": _contains,
    "startswith": lambda s, p: text(s).casefold().startswith(text(p).casefold()),
    "endswith": lambda s, p: text(s).casefold().endswith(text(p).casefold()),
    "format": _format,
    "fromjson": lambda s: json.loads(text(s)),
}


class _Parser:
    def __init__(self, source: str, contexts: dict[str, Any]) -> None:
        self.items, self.at, self.contexts = tokens(source), 0, contexts

    def peek(self) -> str | None:
        return self.items[self.at][1] if self.at < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.items):
            raise SyntaxError("the expression ends too early")
        item = self.items[self.at]
        if expected is not None and item[1] != expected:
            raise SyntaxError(f"expected {expected!r}, found {item[1]!r}")
        self.at += 1
        return item

    def parse(self) -> Any:
        value = self.either()
        if self.at != len(self.items):
            raise SyntaxError(f"unexpected {self.items[self.at][1]!r}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            other = self.both()
            value = value if truthy(value) else other
        return value

    def both(self) -> Any:
        value = self.comparison()
        while self.peek() == "&&":
            self.take()
            other = self.comparison()
            value = other if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            other = self.unary()
            value = equal(value, other) if op == "==" else not equal(value, other)
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if value == "(":
            inner = self.either()
            self.take(")")
            return inner
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value)
        if kind != "name":
            raise SyntaxError(f"unexpected {value!r}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.either())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return FUNCTIONS[value.lower()](*args)
        if value not in self.contexts:
            raise SyntaxError(f"unknown context {value!r}")
        return self.contexts[value]

    def postfix(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if name == "*":
                    value = _star(value)
                else:
                    value = _get(value, name)
            else:
                key = self.either()
                self.take("]")
                value = _get(value, text(key))
        return value


def _get(value: Any, name: str) -> Any:
    if isinstance(value, list) and getattr(value, "filtered", False):
        return _Filtered(_get(v, name) for v in value)
    if isinstance(value, dict):
        for key, item in value.items():
            if key.casefold() == name.casefold():
                return item
    return None


class _Filtered(list[Any]):
    filtered = True


def _star(value: Any) -> Any:
    if isinstance(value, dict):
        return _Filtered(value.values())
    if isinstance(value, list):
        return _Filtered(value)
    return _Filtered()


def evaluate(expression: str, contexts: dict[str, Any]) -> Any:
    """The value of `expression` (without `${{ }}`) in `contexts` (github, vars, ...)."""
    return _Parser(expression, contexts).parse()
