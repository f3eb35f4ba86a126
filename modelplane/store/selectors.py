"""Kubernetes label selectors: parse the text form once, then match label sets (pure, no I/O).

    env=prod,tier!=cache,team in (nlp,vision),!canary,gpu

Requirements are joined by commas and all must hold (AND). Semantics follow Kubernetes: `a!=b` and
`a notin (…)` also match objects without the label `a`; `a=b`, `a in (…)` and `a` need it; `!a`
needs it absent. The empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

EXAMPLES = "e.g. 'team=nlp', 'env!=prod', 'gpu', '!canary', 'tier in (web,api)', 'tier notin (cache)'"

_KEY = re.compile(
    r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_SET = re.compile(r"(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)")
_COMPARE = re.compile(r"(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)")
_EXISTS = re.compile(r"(?P<bang>!?)\s*(?P<key>[^=!\s(),]+)")


class Operator(StrEnum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a selector."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case Operator.EQUALS | Operator.IN:
                return value is not None and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return value is None or value not in self.values
            case Operator.EXISTS:
                return value is not None
            case Operator.DOES_NOT_EXIST:
                return value is None

    def __str__(self) -> str:
        match self.operator:
            case Operator.EQUALS | Operator.NOT_EQUALS:
                return f"{self.key}{self.operator}{next(iter(self.values))}"
            case Operator.IN | Operator.NOT_IN:
                return f"{self.key} {self.operator} ({','.join(sorted(self.values))})"
            case Operator.EXISTS:
                return self.key
            case Operator.DOES_NOT_EXIST:
                return f"!{self.key}"


@dataclass(frozen=True)
class Selector:
    """All requirements must match; `Selector()` matches every label set."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def parse_selector(text: str) -> Selector:
    """The selector written in `text`; a ValueError naming the bad term and showing valid ones."""
    terms = _split_terms(text)
    if terms == [""]:
        return Selector()
    return Selector(tuple(_parse_term(term, text) for term in terms))


def _split_terms(text: str) -> list[str]:
    """`text` split on the commas that are not inside `( … )`."""
    terms: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(text[start:index].strip())
            start = index + 1
        if depth not in (0, 1):
            raise _bad(text, "parentheses do not match")
    if depth != 0:
        raise _bad(text, "parentheses do not match")
    terms.append(text[start:].strip())
    return terms


def _parse_term(term: str, text: str) -> Requirement:
    if not term:
        raise _bad(text, "it has an empty term between commas")
    if match := _SET.fullmatch(term):
        values = [value.strip() for value in match["values"].split(",")]
        if values == [""]:
            raise _bad(text, f"{term!r} lists no values")
        return Requirement(_key(match["key"], text), Operator(match["op"]), _values(values, text))
    if match := _COMPARE.fullmatch(term):
        operator = Operator.NOT_EQUALS if match["op"] == "!=" else Operator.EQUALS
        return Requirement(_key(match["key"], text), operator, _values([match["value"]], text))
    if match := _EXISTS.fullmatch(term):
        operator = Operator.DOES_NOT_EXIST if match["bang"] else Operator.EXISTS
        return Requirement(_key(match["key"], text), operator)
    raise _bad(text, f"{term!r} is not a requirement")


def _key(key: str, text: str) -> str:
    if len(key) > 317 or not _KEY.fullmatch(key):
        raise _bad(text, f"{key!r} is not a label key (letters, digits, '-', '_', '.', optional 'prefix/')")
    return key


def _values(values: list[str], text: str) -> frozenset[str]:
    for value in values:
        if not _VALUE.fullmatch(value):
            raise _bad(text, f"{value!r} is not a label value (at most 63 letters, digits, '-', '_', '.')")
    return frozenset(values)


def _bad(text: str, why: str) -> ValueError:
    return ValueError(
        f"Label selector {text!r} is not valid: {why}. Write comma-separated terms, {EXAMPLES}."
    )
