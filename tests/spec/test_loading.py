"""Loading YAML: every error in every document, each at the line of the offending field; no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane.spec import (
    InvalidSpecError,
    Job,
    ModelDeployment,
    Namespace,
    NodePool,
    SpecError,
    load_data,
    load_path,
    load_paths,
    load_text,
)

GOOD = """\
# three NLP models and a pool
apiVersion: modelplane.dev/v1alpha1
kind: Namespace
metadata: {name: production}
---
apiVersion: modelplane.dev/v1alpha1
kind: NodePool
metadata: {name: gpu}
spec:
  capacity: {cpu: "8", memory: 32Gi, gpu: 1}
  taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: sklearn, uri: ./models/iris.joblib}
---
apiVersion: modelplane.dev/v1alpha1
kind: Job
metadata: {name: train, namespace: production}
spec:
  command: [python, train.py]
"""

BAD = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: sentiment
spec:
  model:
    format: sklearn
    uri: ./models/sentiment
  resources:
    requests: {cpu: 500m}
    limits:
      gpu: 0.5
      memory: 12MB
  replicas: two
---
apiVersion: modelplane.dev/v1alpha1
kind: Job
metadata: {name: train}
spec:
  command: [python, train.py]
  backoffLimit: -1
"""


def test_objects_come_with_their_file_and_document_line() -> None:
    result = load_text(GOOD, file="nlp.yaml")
    assert result.ok, result.errors
    assert [(type(loaded.obj), loaded.line) for loaded in result.objects] == [
        (Namespace, 2),
        (NodePool, 6),
        (ModelDeployment, 13),
        (Job, 19),
    ]
    assert all(loaded.file == Path("nlp.yaml") for loaded in result.objects)
    assert [md.metadata.name for md in result.of_kind(ModelDeployment)] == ["iris"]


def test_every_error_is_reported_at_the_line_of_its_field() -> None:
    result = load_text(BAD, file="examples/bad.yaml")
    assert result.objects == []
    assert [(error.line, error.path) for error in result.errors] == [
        (12, "spec.resources.limits.gpu"),
        (13, "spec.resources.limits.memory"),
        (14, "spec.replicas"),
        (21, "spec.backoffLimit"),
    ]
    assert str(result.errors[0]) == (
        "examples/bad.yaml:12: ModelDeployment/sentiment: spec.resources.limits.gpu: "
        "GPUs are whole devices; got 0.5. Use a whole number such as 1."
    )
    assert str(result.errors[2]) == (
        "examples/bad.yaml:14: ModelDeployment/sentiment: spec.replicas: expected a whole number; got 'two'."
    )
    assert result.errors[3].kind == "Job" and result.errors[3].name == "train"


def test_a_syntax_error_does_not_hide_the_other_documents() -> None:
    text = GOOD + "---\nkind: [unclosed\n---\n" + BAD
    result = load_text(text, file="mixed.yaml")
    assert len(result.objects) == 4
    syntax = [error for error in result.errors if "YAML syntax error" in error.message]
    assert [error.line for error in syntax] == [25]
    assert len(result.errors) == 5


def test_crlf_line_endings_keep_line_numbers() -> None:
    result = load_text(BAD.replace("\n", "\r\n"), file="dos.yaml")
    assert [error.line for error in result.errors] == [12, 13, 14, 21]


def test_missing_fields_point_at_their_parent() -> None:
    text = "apiVersion: modelplane.dev/v1alpha1\nkind: NodePool\nmetadata: {name: cpu}\n"
    text += "spec:\n  labels: {a: b}\n"
    (error,) = load_text(text).errors
    assert (error.line, error.path) == (4, "spec.capacity")
    assert "required field is missing" in error.message
    errors = load_text("apiVersion: modelplane.dev/v1alpha1\nkind: Job\nmetadata: {}\n").errors
    assert [(error.line, error.path) for error in errors] == [(1, "spec"), (3, "metadata.name")]


def test_unknown_fields_suggest_the_right_one() -> None:
    text = GOOD.replace("  command: [python, train.py]", "  command: [python, train.py]\n  backofLimit: 3")
    (error,) = load_text(text).errors
    assert (error.line, error.path) == (24, "spec.backofLimit")
    assert "Did you mean 'backoffLimit'?" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
            "modelplane knows modelplane.dev/v1alpha1",
        ),
        (
            "apiVersion: modelplane.dev/v1alpha1\nkind: Deployment\nmetadata: {name: x}\n",
            "Did you mean ModelDeployment?",
        ),
        (
            "apiVersion: modelplane.dev/v1alpha1\nkind: Pod\n",
            "modelplane knows Namespace, NodePool, ModelDeployment, Job",
        ),
        ("apiVersion: modelplane.dev/v1alpha1\nmetadata: {name: x}\n", "kind is missing"),
        ("kind: Job\nmetadata: {name: x}\n", "apiVersion is missing"),
    ],
)
def test_unknown_kinds_and_api_versions_list_the_known_ones(text: str, message: str) -> None:
    errors = load_text(text).errors
    assert any(message in error.message for error in errors), errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("just some words\n", "got text"),
        ("42\n", "must be a mapping"),
        ("", "no objects found"),
        ("# only a comment\n---\n", "no objects found"),
        ("key: [1, 2\n", "YAML syntax error"),
        ("a: b\n\tc: d\n", "YAML syntax error"),
        ("a: !!python/object:os.system x\n", "YAML syntax error"),
        ("a: \x00\n", "cannot read character"),
        ("&a [*a]\n", "refers to itself"),
    ],
)
def test_bad_documents_become_errors_not_tracebacks(text: str, message: str) -> None:
    result = load_text(text)
    assert any(message in error.message for error in result.errors), result.errors


def test_duplicate_keys_are_errors() -> None:
    text = GOOD.replace("  command: [python, train.py]", "  command: [python, train.py]\n  command: [x]")
    (error,) = load_text(text).errors
    assert (error.line, error.kind, error.name) == (24, "Job", "train")
    assert "appears twice (first on line 23)" in error.message


def test_duplicate_objects_are_errors() -> None:
    doc = "apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: iris}\n"
    doc += "spec: {model: {format: simulated}}\n"
    result = load_text(doc + "---\n" + doc, file="dup.yaml")
    assert len(result.objects) == 1
    (error,) = result.errors
    assert error.line == 6
    assert "defined twice; the first is at dup.yaml:1" in error.message


def test_same_name_in_other_namespaces_or_kinds_is_fine() -> None:
    md = "apiVersion: modelplane.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: a, namespace: %s}\n"
    md += "spec: {model: {format: simulated}}\n"
    job = "apiVersion: modelplane.dev/v1alpha1\nkind: Job\nmetadata: {name: a}\nspec: {command: [x]}\n"
    result = load_text("---\n".join([md % "staging", md % "production", job]))
    assert result.ok and len(result.objects) == 3


def test_cluster_wide_kinds_have_no_namespace() -> None:
    text = "apiVersion: modelplane.dev/v1alpha1\nkind: Namespace\nmetadata: {name: a, namespace: b}\n"
    (error,) = load_text(text).errors
    assert error.path == "metadata.namespace"
    assert "cluster-wide" in error.message


def test_document_markers_directives_and_anchors() -> None:
    text = (
        "%YAML 1.1\n"
        "--- # first\n"
        "apiVersion: modelplane.dev/v1alpha1\n"
        "kind: Namespace\n"
        "metadata: &meta {name: staging}\n"
        "...\n"
        "--- {apiVersion: modelplane.dev/v1alpha1, kind: Namespace, metadata: {name: prod}}\n"
    )
    result = load_text(text)
    assert result.ok, result.errors
    assert [(loaded.obj.metadata.name, loaded.line) for loaded in result.objects] == [
        ("staging", 3),
        ("prod", 7),
    ]


def test_raise_for_errors_carries_every_error() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        load_text(BAD).raise_for_errors()
    assert len(caught.value.errors) == 4
    assert "4 errors in the spec" in str(caught.value)
    load_text(GOOD).raise_for_errors()


def test_load_path_reads_a_directory_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(GOOD.split("---\n")[2])
    (tmp_path / "a.yaml").write_text(GOOD.split("---\n")[0])
    (tmp_path / "notes.txt").write_text("not a spec")
    result = load_path(tmp_path)
    assert result.ok, result.errors
    assert [loaded.file.name for loaded in result.objects] == ["a.yaml", "b.yml"]


def test_duplicates_across_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(GOOD)
    (tmp_path / "two.yaml").write_text(GOOD)
    result = load_paths([tmp_path / "one.yaml", tmp_path / "two.yaml"])
    assert len(result.objects) == 4
    assert len(result.errors) == 4
    assert all(error.file == tmp_path / "two.yaml" for error in result.errors)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage\x00", "not UTF-8 text"),
        (b"\x00\x01\x02", "cannot read character"),
        (bytes(range(256)), "not UTF-8 text"),
    ],
)
def test_binary_garbage_is_an_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(content)
    (error,) = load_path(path).errors
    assert message in error.message
    assert error.file == path


def test_missing_paths_and_empty_directories_are_errors(tmp_path: Path) -> None:
    (error,) = [e for e in load_path(tmp_path / "nope.yaml").errors if e.file is not None]
    assert "no such file or directory" in str(error)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert any("no .yaml or .yml files" in str(e) for e in load_path(empty).errors)


def test_spec_error_renders_without_parts_it_lacks() -> None:
    assert str(SpecError("boom")) == "boom"
    assert str(SpecError("boom", file=Path("a.yaml"))) == "a.yaml: boom"
    assert str(SpecError("boom", file=Path("a.yaml"), line=3, kind="Job")) == "a.yaml:3: Job: boom"


YAMLISH = st.text(
    alphabet=st.sampled_from(list("abc:-[]{}#&*!|>'\"%@`,?\n\t 0123.eE\x00\\\ufeff")), max_size=200
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_arbitrary_text_never_raises(text: str) -> None:
    result = load_text(text)
    assert result.objects or result.errors


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "model",
        "resources",
        "replicas",
        "autoscaling",
        "batching",
        "probes",
        "strategy",
        "traffic",
        "disruptionBudget",
    ]
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELDS, JSONISH, max_size=5))
def test_arbitrary_specs_never_raise(spec: dict[str, object]) -> None:
    import yaml

    doc = {
        "apiVersion": "modelplane.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "x"},
        "spec": spec,
    }
    result = load_text(yaml.safe_dump(doc))
    for error in result.errors:
        assert error.line is not None and error.line >= 1
        assert str(error)


def test_lines_stay_right_across_many_documents() -> None:
    doc = "apiVersion: modelplane.dev/v1alpha1\nkind: Job\nmetadata: {name: j%d}\n"
    doc += "spec:\n  command: [x]\n  parallelism: 0\n"
    result = load_text("---\n".join(doc % index for index in range(300)))
    assert len(result.errors) == 300
    assert [error.line for error in result.errors[-2:]] == [6 + 7 * 298, 6 + 7 * 299]
    assert result.errors[-1].name == "j299"


def test_applied_spec_is_what_the_file_declares_without_defaults() -> None:
    text = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: iris}
spec:
  model: {format: simulated, params: {latency_ms: 5}}
  min_ready_seconds: 2
  nodeSelector: {gpu_type: a100}
  resources: {limits: {memory: 1Gi}}
  traffic: [{version: v1, weight: 100}]
  strategy: {type: Recreate}
"""
    [loaded] = load_text(text).objects
    assert loaded.applied_spec() == {
        "model": {"format": "simulated", "params": {"latency_ms": 5}},  # mapping keys kept as written
        "minReadySeconds": 2,  # a model field in snake_case comes back camelCase
        "nodeSelector": {"gpu_type": "a100"},
        "resources": {"limits": {"memory": "1Gi"}},  # not the requests defaulted from limits
        "traffic": [{"version": "v1", "weight": 100}],
        "strategy": {"type": "Recreate"},
    }


def test_the_applied_spec_of_every_example_validates_back_to_the_whole_spec() -> None:
    examples = Path(__file__).parents[2] / "examples"
    loaded_files = [
        load_path(file) for file in sorted([*examples.glob("*.yaml"), *examples.glob("*/*.yaml")])
    ]
    assert all(result.ok for result in loaded_files) and len(loaded_files) > 3
    for loaded in [loaded for result in loaded_files for loaded in result.objects]:
        spec_type = type(loaded.obj.spec)
        again = spec_type.model_validate(loaded.applied_spec())
        assert again == loaded.obj.spec, loaded.obj.display_name


def test_load_data_points_errors_at_the_given_line() -> None:
    document = {
        "apiVersion": "modelplane.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "iris"},
        "spec": {"model": {"format": "simulated"}, "replicas": -1},
    }
    result = load_data(document, file="iris.yaml", line=12)
    [error] = result.errors
    assert (error.line, error.path, error.name) == (12, "spec.replicas", "iris")
    assert str(error).startswith("iris.yaml:12: ModelDeployment/iris: spec.replicas:")
    valid = load_data({**document, "spec": {"model": {"format": "simulated"}}}, file="iris.yaml", line=12)
    assert valid.ok and valid.objects[0].line == 12


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "ModelDeployment", "metadata": {"name": "iris"}, "spec": {"model": {"format": "simulated"}}},
        {"apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeploy", "metadata": {"name": "iris"}},
        {
            "apiVersion": "modelplane.dev/v1alpha1",
            "kind": "ModelDeployment",
            "metadata": {"name": "iris"},
            "spec": {
                "model": {"format": "sklern", "uri": "m"},
                "replicas": "2",
                "batching": {"maxBatchSize": 0},
            },
        },
    ],
)
def test_load_data_words_errors_as_a_file_holding_the_same_document(document: dict[str, object]) -> None:
    # load_data composes YAML nodes only when validation fails: the messages stay those of a file
    import yaml

    from_file = load_text(yaml.safe_dump(document), file="iris.yaml").errors
    from_data = load_data(document, file="iris.yaml", line=1).errors
    assert from_data
    assert sorted((e.message, e.path or "") for e in from_data) == sorted(
        (e.message, e.path or "") for e in from_file
    )
