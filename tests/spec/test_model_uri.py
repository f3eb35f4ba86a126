"""A relative `model.uri` stays inside the applied file's folder; a model elsewhere is named by an
absolute path the user wrote (a spec from someone else cannot reach `../../home/me/.ssh/id_rsa`)."""

from __future__ import annotations

import pytest

from modelplane.spec import load_text

DOCUMENT = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: m}}
spec:
  model: {{format: {format}, uri: "{uri}"}}
"""


@pytest.mark.parametrize(
    ("format", "uri"),
    [
        ("sklearn", "../../etc/passwd"),
        ("sklearn", ".."),
        ("sklearn", "models/../../secret.joblib"),
        ("onnx", "./../model.onnx"),
        ("python", "../tools/model.py:Model"),
    ],
)
def test_a_relative_uri_leaving_the_folder_is_refused(format: str, uri: str) -> None:
    result = load_text(DOCUMENT.format(format=format, uri=uri), file="app/spec.yaml")
    assert not result.objects
    (error,) = result.errors
    assert str(error).startswith("app/spec.yaml:5: ModelDeployment/m: spec.model.uri: ")
    assert "leaves the folder of the spec file" in error.message
    assert "write its absolute path" in error.message


@pytest.mark.parametrize(
    ("format", "uri"),
    [
        ("sklearn", "/srv/models/iris.joblib"),
        ("sklearn", "~/models/iris.joblib"),
        ("sklearn", "./models/iris.joblib"),
        ("sklearn", "models/v1/../v2/iris.joblib"),
        ("sklearn", "models/..data/iris.joblib"),
        ("python", "my_package.models:Model"),
        ("python", "/opt/tools/model.py:Model"),
        ("onnx", "s3://bucket/model.onnx"),
    ],
)
def test_uris_inside_the_folder_absolute_or_not_paths_are_accepted(format: str, uri: str) -> None:
    result = load_text(DOCUMENT.format(format=format, uri=uri))
    assert result.ok, result.errors


@pytest.mark.parametrize("uri", ["models/iris\\0.joblib", "models/iris\\n.joblib", "\\x1b[2Jiris.joblib"])
def test_a_uri_with_control_characters_is_refused_at_validation(uri: str) -> None:
    # a NUL passed validation, then apply resolving the path raised "embedded null byte" (a 500 from
    # the API, a traceback from the CLI)
    result = load_text(DOCUMENT.format(format="sklearn", uri=uri), file="app/spec.yaml")
    assert not result.objects
    (error,) = result.errors
    assert str(error).startswith("app/spec.yaml:5: ModelDeployment/m: spec.model.uri: ")
    assert "control character" in error.message
