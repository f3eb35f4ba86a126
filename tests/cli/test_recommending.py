"""`modelplane recommend` against a fake API: the table, the block to paste, flags and friendly errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.cli.recommending import recommend
from modelplane.controllers.rightsizing import recommend as decide
from modelplane.spec import ResourceRequirements
from modelplane.store import UsageSample
from tests.cli.test_objects import FakeApi, clear_env, run, serve_fake_api

PATH = "/api/v1/recommendations"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with serve_fake_api() as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_env(monkeypatch, tmp_path)


def iris() -> dict[str, Any]:
    samples = [
        UsageSample("default", "iris", "iris-a", 5.0 * i, None if i == 0 else 4, 150 << 20) for i in range(5)
    ]
    return decide(
        namespace="default",
        deployment="iris",
        resources=ResourceRequirements.model_validate({"limits": {"cpu": "2", "memory": "2Gi"}}),
        samples=samples,
        now=100,
    ).to_json()


def test_prints_a_table_the_reasons_and_the_block_to_paste(api: FakeApi) -> None:
    api.on("GET", PATH, (200, {"items": [iris()]}))
    result = run(recommend, api, "iris")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0]
        == "modeldeployment.modelplane.dev/iris (namespace default): 5 samples from 1 replica over 20s"
    )
    assert lines[1].split() == [
        "RESOURCE", "REQUEST", "LIMIT", "P95", "PEAK", "PROPOSED", "REQUEST", "PROPOSED", "LIMIT", "VERDICT"
    ]  # fmt: skip
    assert lines[2].split() == ["cpu", "2", "2", "4m", "4m", "25m", "50m", "over-provisioned"]
    assert lines[3].split() == [
        "memory",
        "2Gi",
        "2Gi",
        "150Mi",
        "150Mi",
        "250Mi",
        "250Mi",
        "over-provisioned",
    ]
    assert "  memory: the request 2Gi is 8.2× the proposed 250Mi" in result.output
    block = result.output.split("Proposed for the spec of iris:\n")[1]
    assert yaml.safe_load(block) == {
        "resources": {
            "requests": {"cpu": "25m", "memory": "250Mi"},
            "limits": {"cpu": "50m", "memory": "250Mi"},
        }
    }
    assert api.seen[-1].query == {"namespace": "default", "deployment": "iris"}


def test_without_enough_data_it_says_so_and_proposes_nothing(api: FakeApi) -> None:
    item = decide(
        namespace="default", deployment="iris", resources=ResourceRequirements(), samples=[], now=0
    ).to_json()
    api.on("GET", PATH, (200, {"items": [item]}))
    result = run(recommend, api)
    assert result.exit_code == 0, result.output
    assert "not enough data: 0 samples over 0 s; let it serve for a few minutes." in result.output
    assert "Proposed" not in result.output


def test_window_all_namespaces_and_json(api: FakeApi) -> None:
    api.on("GET", PATH, (200, {"items": [iris()]}))
    result = run(recommend, api, "-A", "--window", "1h30m", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"][0]["deployment"] == "iris"
    assert api.seen[-1].query == {"window": "5400"}
    bad = run(recommend, api, "--window", "soon")
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output


def test_an_unknown_deployment_says_how_to_list_them(api: FakeApi) -> None:
    api.on("GET", PATH, (404, {"error": "ModelDeployment default/nope was not found.", "reason": "NotFound"}))
    result = run(recommend, api, "nope", "-n", "staging")
    assert result.exit_code == 1
    assert "Deployment 'nope' was not found in namespace staging" in result.output
    assert "modelplane get md -n staging" in result.output


def test_no_deployments(api: FakeApi) -> None:
    api.on("GET", PATH, (200, {"items": []}))
    result = run(recommend, api)
    assert result.exit_code == 0
    assert "No deployments found in default namespace." in result.output
