"""The OIP path matcher the model server and the router share: every route, and the bad paths."""

from __future__ import annotations

import pytest

from modelplane.net import paths
from modelplane.net.paths import MAX_NAME, MAX_PATH, BadPath, ModelPath, Op, Target, match

M, R, INF, V1, P = Op.METADATA, Op.READY, Op.INFER, Op.V1_READY, Op.V1_PREDICT


CASES = [
    ("/v2/models/sim", Target("/v2/models/sim", None, ModelPath(M, "sim"))),
    ("/v2/models/sim/", Target("/v2/models/sim", None, ModelPath(M, "sim"))),
    ("/v2/models/sim/ready", Target("/v2/models/sim/ready", None, ModelPath(R, "sim"))),
    ("/v2/models/sim/infer", Target("/v2/models/sim/infer", None, ModelPath(INF, "sim"))),
    ("/v2/models/sim/infer//", Target("/v2/models/sim/infer", None, ModelPath(INF, "sim"))),
    (
        "/v2/models/sim/versions/v1.2_rc-1",
        Target("/v2/models/sim/versions/v1.2_rc-1", None, ModelPath(M, "sim", "v1.2_rc-1")),
    ),
    (
        "/v2/models/sim/versions/v2/ready",
        Target("/v2/models/sim/versions/v2/ready", None, ModelPath(R, "sim", "v2")),
    ),
    (
        "/v2/models/sim/versions/v2/infer",
        Target("/v2/models/sim/versions/v2/infer", None, ModelPath(INF, "sim", "v2")),
    ),
    # a model named like a keyword is still a model, and is not pinned
    ("/v2/models/versions/infer", Target("/v2/models/versions/infer", None, ModelPath(INF, "versions"))),
    (
        "/v2/models/infer/versions/ready/ready",
        Target("/v2/models/infer/versions/ready/ready", None, ModelPath(R, "infer", "ready")),
    ),
    ("/v1/models/sim", Target("/v1/models/sim", None, ModelPath(V1, "sim"))),
    ("/v1/models/sim:predict", Target("/v1/models/sim:predict", None, ModelPath(P, "sim"))),
    # the router's namespaces: cut off
    ("/ns/team-a/v2/models/sim/infer", Target("/v2/models/sim/infer", "team-a", ModelPath(INF, "sim"))),
    ("/ns/team-a/v1/models/sim:predict", Target("/v1/models/sim:predict", "team-a", ModelPath(P, "sim"))),
    ("/ns/team-a/v2/models", Target("/v2/models", "team-a")),
    ("/ns/team-a", Target("/", "team-a")),
    ("/ns/team-a/", Target("/", "team-a")),
    # not model paths: the caller serves them or answers 404
    ("/", Target("/")),
    ("/v2", Target("/v2")),
    ("/v2/", Target("/v2")),
    ("/v2/models", Target("/v2/models")),
    ("/v2/models/", Target("/v2/models")),
    ("/v2/health/ready", Target("/v2/health/ready")),
    ("/metrics", Target("/metrics")),
    ("/ns", Target("/ns")),
    ("/v2/models/sim/explain", Target("/v2/models/sim/explain")),
    ("/v2/models/sim/versions", Target("/v2/models/sim/versions")),
    ("/v2/models/sim/versions/v1/infer/more", Target("/v2/models/sim/versions/v1/infer/more")),
    ("/v1/models/sim:explain", Target("/v1/models/sim:explain")),
    ("/v1/models/sim/predict", Target("/v1/models/sim/predict")),
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_match(path: str, expected: Target) -> None:
    assert match(path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/models//infer", "has an empty segment"),
        ("/v2/models/sim//infer", "has an empty segment"),
        ("/v2/models/sim/versions//infer", "has an empty segment"),
        ("/ns//v2/models/sim/infer", "has an empty segment"),
        ("/v1/models/:predict", "has an empty segment"),
        ("/v2/models/../infer", "has a '..' segment"),
        ("/v2/models/sim/../other/infer", "has a '..' segment"),
        ("/v2/models/./infer", "has a '.' segment"),
        ("/ns/../v2/models/sim/infer", "has a '..' segment"),
        ("/v2/models/sim/versions/../infer", "has a '..' segment"),
        ("/v2/models/%73im/infer", "is percent-encoded"),
        ("/v2/models/a%2Fb/infer", "is percent-encoded"),
        ("/v2/models/sim/versions/v%31/infer", "is percent-encoded"),
        ("/ns/te%61m/v2/models/sim/infer", "is percent-encoded"),
        ("/v1/models/s%69m:predict", "is percent-encoded"),
        ("/v2/models/" + "a" * (MAX_NAME + 1) + "/infer", f"is {MAX_NAME + 1} characters long; at most"),
        ("/v2/models/sim/versions/" + "1" * (MAX_NAME + 1), "the version in"),
        ("/ns/" + "n" * (MAX_NAME + 1) + "/v2/models", "the namespace in"),
        ("/v2/models/" + "a" * MAX_PATH, f"at most {MAX_PATH} are accepted"),
        ("/" + "x" * MAX_PATH, f"at most {MAX_PATH} are accepted"),  # any path, not only a model's
        ("/v2/models/s m/infer", "the model name 's m'"),
        ("/v2/models/a;b/infer", "has characters no model name can have"),
        ("/v2/models/sim/versions/v'1/infer", "has characters no version can have"),
        ("/ns/a:b/v2/models/sim/infer", "has characters no namespace can have"),
    ],
)
def test_bad_paths_are_refused_400_with_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(BadPath, match=message) as caught:
        match(path)
    assert caught.value.status == 400
    assert len(str(caught.value)) < 400  # a long bad path never makes a long answer


def test_the_longest_accepted_path_and_name() -> None:
    name = "a" * MAX_NAME
    assert match(f"/v2/models/{name}/infer").model == ModelPath(INF, name)
    long = "/v2/models/sim/" + "x" * (MAX_PATH - len("/v2/models/sim/"))
    assert len(long) == MAX_PATH and match(long) == Target(long)


@pytest.mark.parametrize(("path", "expected"), [c for c in CASES if c[1].model is not None])
def test_the_fast_path_agrees_with_the_slow_one(path: str, expected: Target) -> None:
    """Valid model paths take one regex; the segment-by-segment reading (which explains bad paths)
    must give the same answer."""
    rest = expected.path
    slow = paths._v2(rest[len("/v2/models/") :], path) if rest.startswith("/v2/") else None
    if rest.startswith("/v1/"):
        slow = paths._v1(rest[len("/v1/models/") :], path)
    assert slow == expected.model


def test_answers_are_cached_and_refusals_are_not() -> None:
    paths.match.cache_clear()
    assert match("/v2/models/sim/infer") is match("/v2/models/sim/infer")
    for _ in range(2):
        with pytest.raises(BadPath):
            match("/v2/models//infer")
    assert paths.match.cache_info().currsize == 1
