"""Namespace lifecycle on pure functions: admission of an apply, and the namespace controller's plan."""

from __future__ import annotations

import pytest

from modelplane.controllers.namespaces import (
    Member,
    NamespacePhase,
    NamespacePlan,
    Refusal,
    admit,
    plan_namespace,
    summarize,
    undeletable,
)


@pytest.mark.parametrize(
    ("namespace", "stored", "declared", "expected"),
    [
        ("default", {}, set(), None),  # default always exists, stored or not
        ("staging", {"staging": False}, set(), None),
        ("staging", {}, {"staging"}, None),  # declared in the same request
        ("staging", {}, set(), Refusal("staging", terminating=False)),
        ("staging", {"production": False}, {"production"}, Refusal("staging", terminating=False)),
        ("staging", {"staging": True}, set(), Refusal("staging", terminating=True)),
        ("staging", {"staging": True}, {"staging"}, Refusal("staging", terminating=True)),  # no undo
    ],
)
def test_admit(namespace: str, stored: dict[str, bool], declared: set[str], expected: Refusal | None) -> None:
    assert admit(namespace, stored=stored, declared=declared) == expected


def test_refusals_say_what_to_do() -> None:
    missing = Refusal("staging", terminating=False)
    assert missing.message == (
        'namespace "staging" does not exist; apply a Namespace named staging first '
        "(kind: Namespace, metadata.name: staging), or leave out metadata.namespace to use default."
    )
    terminating = Refusal("old", terminating=True)
    assert terminating.message.startswith(
        "unable to create new content in namespace old because it is being terminated; "
    )
    assert summarize([missing, missing, terminating]) == (
        '3 object(s) refused: namespaces "staging" not found; namespace old is being terminated; '
        "nothing was stored."
    )


def test_default_may_not_be_deleted() -> None:
    assert undeletable("default") == 'namespace "default" is forbidden: this namespace may not be deleted'
    assert undeletable("staging") is None


@pytest.mark.parametrize(
    ("phase", "deleting", "members", "expected"),
    [
        (None, False, [], NamespacePlan(phase=NamespacePhase.ACTIVE)),
        ("Active", False, [Member("ModelDeployment", "iris")], NamespacePlan()),
        # deleted: Terminating, and everything not yet deleting is deleted, owners first
        (
            "Active",
            True,
            [
                Member("Replica", "iris-a"),
                Member("Replica", "iris-b", deleting=True),
                Member("Revision", "iris-7d9f"),
                Member("ModelDeployment", "iris"),
                Member("Job", "train"),
            ],
            NamespacePlan(
                phase=NamespacePhase.TERMINATING,
                delete=(
                    ("ModelDeployment", "iris"),
                    ("Job", "train"),
                    ("Replica", "iris-a"),
                    ("Revision", "iris-7d9f"),
                ),
            ),
        ),
        # draining: wait (a level-triggered pass with nothing to do)
        ("Terminating", True, [Member("Replica", "iris-b", deleting=True)], NamespacePlan()),
        # empty: the record goes
        ("Terminating", True, [], NamespacePlan(remove=True)),
        (None, True, [], NamespacePlan(remove=True)),
    ],
)
def test_plan_namespace(
    phase: str | None, deleting: bool, members: list[Member], expected: NamespacePlan
) -> None:
    assert plan_namespace(phase=phase, deleting=deleting, members=members) == expected
