"""kubectl-style KIND names → the API's plural, as a user types them."""

from __future__ import annotations

import pytest

from modelplane.cli.kinds import KINDS, UnknownKind, for_kind, resolve, split_ref


@pytest.mark.parametrize(
    ("typed", "plural"),
    [
        ("modeldeployment", "modeldeployments"),
        ("modeldeployments", "modeldeployments"),
        ("ModelDeployment", "modeldeployments"),
        ("deployment", "modeldeployments"),
        ("Deployments", "modeldeployments"),
        ("deploy", "modeldeployments"),
        ("MD", "modeldeployments"),
        ("modeldeployments.modelplane.dev", "modeldeployments"),
        ("replica", "replicas"),
        ("replicas", "replicas"),
        ("rep", "replicas"),
        ("nodepool", "nodepools"),
        ("NodePools", "nodepools"),
        ("np", "nodepools"),
        ("pool", "nodepools"),
        ("pools", "nodepools"),
        ("namespace", "namespaces"),
        ("namespaces", "namespaces"),
        ("ns", "namespaces"),
        ("job", "jobs"),
        ("Jobs", "jobs"),
        ("event", "events"),
        ("events", "events"),
        ("ev", "events"),
    ],
)
def test_names_resolve_to_the_api_plural(typed: str, plural: str) -> None:
    assert resolve(typed).plural == plural


def test_unknown_kind_lists_the_valid_names() -> None:
    with pytest.raises(UnknownKind) as caught:
        resolve("pods")
    message = str(caught.value)
    assert "unknown kind 'pods'" in message
    for info in KINDS:
        assert info.plural in message
    assert "md" in message and "np" in message and "ns" in message


def test_names_are_unique_across_kinds() -> None:
    names = [name for info in KINDS for name in info.names]
    assert len(names) == len(set(names))


def test_scope_and_resource_names() -> None:
    assert resolve("ns").cluster_scoped and resolve("np").cluster_scoped
    assert not resolve("md").cluster_scoped and not resolve("replicas").cluster_scoped
    assert resolve("md").resource == "modeldeployment.modelplane.dev"


def test_from_an_objects_kind_field() -> None:
    assert for_kind("ModelDeployment").plural == "modeldeployments"
    assert for_kind("NodePool").plural == "nodepools"
    with pytest.raises(UnknownKind):
        for_kind("Pod")


def test_split_ref() -> None:
    kind, name = split_ref("replica/iris-7d9f-abcde")
    assert kind is not None and kind.plural == "replicas" and name == "iris-7d9f-abcde"
    assert split_ref("iris") == (None, "iris")
    with pytest.raises(UnknownKind):
        split_ref("pod/x")
