"""Parsing the endpoints table of docs/control-plane.md, and its errors."""

from __future__ import annotations

import json

import pytest

from modelplane.router.errors import TableError
from modelplane.router.table import parse_table

EXAMPLE = {
    "resourceVersion": 42,
    "deployments": [
        {
            "namespace": "default",
            "name": "iris",
            "concurrency": 8,
            "traffic": [{"version": "v1", "weight": 100}],
            "endpoints": [
                {
                    "replica": "iris-7d9f-abcde",
                    "version": "v1",
                    "address": "127.0.0.1:41234",
                    "ready": True,
                    "terminating": False,
                }
            ],
        }
    ],
}


def test_the_documented_example_parses() -> None:
    table = parse_table(json.dumps(EXAMPLE), source="test")
    assert table.resource_version == 42
    iris = table.by_key()[("default", "iris")]
    assert iris.concurrency == 8
    assert iris.weights() == [("v1", 100)]
    assert iris.endpoints[0].address == "127.0.0.1:41234"


def test_defaults_and_unknown_fields() -> None:
    table = parse_table(
        json.dumps(
            {
                "deployments": [
                    {
                        "name": "x",
                        "futureField": 1,
                        "endpoints": [
                            {"replica": "a", "version": "v1", "address": "h:1", "ready": True},
                            {"replica": "b", "version": "v2", "address": "h:2", "ready": False},
                        ],
                    }
                ]
            }
        ),
        source="test",
    )
    x = table.deployments[0]
    assert (x.namespace, x.concurrency, table.resource_version) == ("default", None, 0)
    assert x.weights() == [("v1", 1), ("v2", 1)]  # no split given: every live version weighs 1


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{", "invalid"),
        (
            {
                "deployments": [
                    {"name": "x", "endpoints": [{"replica": "a", "address": "nowhere", "ready": True}]}
                ]
            },
            "deployments.0.endpoints.0.address",
        ),
        ({"deployments": [{"name": "x", "traffic": [{"version": "v1", "weight": -1}]}]}, "weight"),
        ({"deployments": [{"name": "x"}, {"name": "x"}]}, "default/x more than once"),
    ],
)
def test_errors_name_the_source_and_the_field(doc: object, message: str) -> None:
    with pytest.raises(TableError) as error:
        parse_table(doc if isinstance(doc, str) else json.dumps(doc), source="endpoints.json")
    assert "endpoints.json" in str(error.value)
    assert message in str(error.value)
