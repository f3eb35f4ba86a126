"""Kubernetes label selector syntax and matching, table-driven."""

from __future__ import annotations

import pytest

from modelplane.store import Selector, parse_selector

LABELS = {"team": "nlp", "env": "prod", "example.com/tier": "gold"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("team=nlp", True),
        ("team==nlp", True),
        ("team=vision", False),
        ("team!=vision", True),
        ("team!=nlp", False),
        ("missing!=x", True),
        ("team", True),
        ("missing", False),
        ("!missing", True),
        ("!team", False),
        ("env in (prod,staging)", True),
        ("env in (staging)", False),
        ("missing in (x)", False),
        ("env notin (staging, dev)", True),
        ("env notin (prod)", False),
        ("missing notin (x)", True),
        ("example.com/tier=gold", True),
        ("team=nlp,env in (prod),!canary", True),
        (" team = nlp , env!=dev ", True),
        ("team=nlp,env=dev", False),
        ("team=", False),
    ],
)
def test_matches(text: str, matches: bool) -> None:
    assert parse_selector(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    "text",
    [
        "team=nlp,",
        "=nlp",
        "team in ()",
        "team in (a",
        "team in a)",
        "team=a b",
        "te am",
        "team=(x)",
        "a,,b",
        "-x",
    ],
)
def test_bad_syntax_shows_valid_examples(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_selector(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "'team=nlp'" in message and "'tier in (web,api)'" in message


def test_empty_selector_matches_everything() -> None:
    assert Selector().matches({}) and parse_selector("  ").matches({"a": "b"})


def test_text_form_round_trips() -> None:
    text = "env in (prod,staging),team!=x,gpu,!canary,tier=gold"
    assert str(parse_selector(text)) == text
    assert parse_selector(str(parse_selector(text))) == parse_selector(text)
