"""Objects as a user of the API sees them: apply results, generation vs resourceVersion, conflicts,
listing, deletion, and the change log a watch reads."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

import modelplane.store as store_package
from modelplane.store import (
    FILE_NAME,
    LAST_APPLIED_ANNOTATION,
    AlreadyExists,
    ChangeType,
    Conflict,
    Expired,
    NotFound,
    Store,
    StoreError,
)
from modelplane.store.db import MIGRATIONS

MD = "ModelDeployment"
SPEC = {"model": {"uri": "./models/iris", "format": "sklearn"}, "replicas": 2}


def test_apply_created_then_unchanged_then_configured(store: Store) -> None:
    first, result = store.apply(MD, "default", "iris", labels={"team": "ml"}, spec=SPEC, now=100)
    assert result == "created"
    again, result = store.apply(MD, "default", "iris", labels={"team": "ml"}, spec=dict(SPEC), now=200)
    assert result == "unchanged"
    assert again == first
    changed, result = store.apply(
        MD, "default", "iris", labels={"team": "ml"}, spec={**SPEC, "replicas": 3}, now=300
    )
    assert result == "configured"
    assert changed.uid == first.uid
    assert changed.spec["replicas"] == 3
    assert changed.created == 100 and changed.updated == 300


def test_apply_keeps_status(store: Store) -> None:
    store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    store.update_status(MD, "default", "iris", {"readyReplicas": 2}, now=2)
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec={**SPEC, "replicas": 5}, now=3)
    assert obj.status == {"readyReplicas": 2}


def test_generation_rises_with_spec_only_resource_version_with_every_write(store: Store) -> None:
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    assert obj.generation == 1
    rv = obj.resource_version

    relabelled, _ = store.apply(MD, "default", "iris", labels={"env": "prod"}, spec=SPEC, now=2)
    assert (relabelled.generation, relabelled.resource_version) == (1, rv + 1)

    with_status = store.update_status(MD, "default", "iris", {"phase": "Ready"}, now=3)
    assert (with_status.generation, with_status.resource_version) == (1, rv + 2)

    respecced, _ = store.apply(MD, "default", "iris", labels={"env": "prod"}, spec={"replicas": 9}, now=4)
    assert (respecced.generation, respecced.resource_version) == (2, rv + 3)
    assert store.current_rv() == rv + 3


def test_resource_version_is_one_counter_across_objects(store: Store) -> None:
    a, _ = store.apply(MD, "default", "a", labels={}, spec={}, now=1)
    b, _ = store.apply("Job", "staging", "b", labels={}, spec={}, now=1)
    ns, _ = store.apply("Namespace", "", "staging", labels={}, spec={}, now=1)
    assert [a.resource_version, b.resource_version, ns.resource_version] == [1, 2, 3]


def test_contents_are_every_kind_in_one_namespace(store: Store) -> None:
    store.apply(MD, "staging", "iris", labels={}, spec=SPEC, now=1)
    store.create("Replica", "staging", "iris-a", labels={}, spec={}, now=1)
    store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    store.apply("Namespace", "", "staging", labels={}, spec={}, now=1)
    assert [obj.key for obj in store.contents("staging")] == [
        (MD, "staging", "iris"),
        ("Replica", "staging", "iris-a"),
    ]
    with pytest.raises(ValueError):
        store.contents("")


def test_stale_update_is_refused_naming_both_versions(store: Store) -> None:
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    store.update(MD, "default", "iris", spec={"replicas": 4}, expected_rv=obj.resource_version, now=2)
    with pytest.raises(Conflict) as caught:
        store.update(MD, "default", "iris", spec={"replicas": 7}, expected_rv=obj.resource_version, now=3)
    error = caught.value
    assert error.status == 409
    assert (error.current_rv, error.expected_rv) == (obj.resource_version + 1, obj.resource_version)
    assert str(error) == (
        f"ModelDeployment default/iris was changed by someone else (resourceVersion "
        f"{obj.resource_version + 1}, you sent {obj.resource_version}). Get it again and retry."
    )
    assert store.get(MD, "default", "iris").spec == {"replicas": 4}


def test_stale_status_update_is_refused(store: Store) -> None:
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    store.apply(MD, "default", "iris", labels={"x": "y"}, spec=SPEC, now=2)
    with pytest.raises(Conflict):
        store.update_status(
            MD, "default", "iris", {"phase": "Ready"}, expected_rv=obj.resource_version, now=3
        )


def test_update_without_expected_rv_and_no_op_update(store: Store) -> None:
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    same = store.update(MD, "default", "iris", spec=dict(SPEC), expected_rv=None, now=2)
    assert same == obj
    relabelled = store.update(MD, "default", "iris", labels={"a": "b"}, expected_rv=None, now=3)
    assert relabelled.labels == {"a": "b"} and relabelled.spec == SPEC


def test_create_get_find_and_not_found(store: Store) -> None:
    created = store.create(MD, "default", "iris", labels={}, spec=SPEC, status={"phase": "Pending"}, now=5)
    assert store.get(MD, "default", "iris") == created
    with pytest.raises(AlreadyExists) as exists:
        store.create(MD, "default", "iris", labels={}, spec=SPEC, now=6)
    assert exists.value.status == 409
    assert "ModelDeployment default/iris already exists" in str(exists.value)
    assert store.find(MD, "default", "nope") is None
    with pytest.raises(NotFound) as missing:
        store.get(MD, "staging", "iris")
    assert missing.value.status == 404
    assert "ModelDeployment staging/iris was not found" in str(missing.value)
    with pytest.raises(NotFound):
        store.update(MD, "default", "nope", spec={}, expected_rv=None, now=7)


def test_list_by_namespace_all_and_selector(store: Store) -> None:
    for namespace, name, labels in [
        ("staging", "b", {"team": "nlp"}),
        ("production", "z", {"team": "nlp", "tier": "gold"}),
        ("production", "a", {"team": "vision"}),
        ("staging", "a", {}),
    ]:
        store.apply(MD, namespace, name, labels=labels, spec={}, now=1)
    store.apply("Job", "staging", "train", labels={"team": "nlp"}, spec={}, now=1)

    everywhere = [(o.namespace, o.name) for o in store.list(MD)]
    assert everywhere == [("production", "a"), ("production", "z"), ("staging", "a"), ("staging", "b")]
    assert [o.name for o in store.list(MD, namespace="staging")] == ["a", "b"]
    assert [o.name for o in store.list(MD, selector="team=nlp")] == ["z", "b"]
    assert [o.name for o in store.list(MD, namespace="production", selector="team,tier!=gold")] == ["a"]
    assert store.list(MD, namespace="nowhere") == []


def test_cluster_scoped_kinds_have_no_namespace(store: Store) -> None:
    pool, _ = store.apply("NodePool", "", "gpu", labels={}, spec={"capacity": {"gpu": 1}}, now=1)
    assert "namespace" not in pool.to_json()["metadata"]
    with pytest.raises(ValueError, match="cluster-wide"):
        store.apply("NodePool", "default", "gpu", labels={}, spec={}, now=1)
    with pytest.raises(ValueError, match="namespace"):
        store.apply(MD, "", "iris", labels={}, spec={}, now=1)
    with pytest.raises(NotFound) as missing:
        store.get("Namespace", "", "staging")
    assert "Namespace staging was not found" in str(missing.value)


def test_to_json_is_the_api_shape(store: Store) -> None:
    obj, _ = store.apply(MD, "default", "iris", labels={"team": "ml"}, spec=SPEC, now=1_764_420_807.5)
    assert obj.to_json() == {
        "apiVersion": "modelplane.dev/v1alpha1",
        "kind": MD,
        "metadata": {
            "name": "iris",
            "namespace": "default",
            "uid": obj.uid,
            "generation": 1,
            "resourceVersion": obj.resource_version,
            "labels": {"team": "ml"},
            "creationTimestamp": "2025-11-29T12:53:27Z",
            "deletionTimestamp": None,
        },
        "spec": SPEC,
        "status": {},
    }


def test_apply_keeps_the_last_applied_spec_and_other_writes_leave_it(store: Store) -> None:
    declared = {"model": {"format": "sklearn"}}
    obj, _ = store.apply(MD, "default", "iris", labels={}, spec=SPEC, last_applied=declared, now=1)
    assert store.get(MD, "default", "iris").last_applied == declared
    assert obj.to_json()["metadata"]["annotations"] == {
        LAST_APPLIED_ANNOTATION: '{"model":{"format":"sklearn"}}'
    }
    scaled = store.update(MD, "default", "iris", spec={**SPEC, "replicas": 5}, expected_rv=None, now=2)
    assert scaled.last_applied == declared
    assert store.changes_since(obj.resource_version)[0].object.last_applied == declared
    # the same spec with another last-applied spec is a write, but not a new generation
    again, result = store.apply(
        MD, "default", "iris", labels={}, spec=scaled.spec, last_applied={**declared, "replicas": 5}, now=3
    )
    assert result == "configured" and again.generation == scaled.generation
    _, result = store.apply(
        MD, "default", "iris", labels={}, spec=scaled.spec, last_applied={**declared, "replicas": 5}, now=4
    )
    assert result == "unchanged"


def test_a_state_db_from_before_last_applied_opens_and_takes_it(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)) as conn:
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO objects VALUES (?, 'default', 'iris', 'u1', 1, 7, '{}', ?, '{}', 1, 1, NULL)",
            (MD, json.dumps(SPEC)),
        )
        conn.execute("UPDATE counters SET value = 7 WHERE name = 'resource_version'")
    with Store(tmp_path) as store:
        old = store.get(MD, "default", "iris")
        assert old.spec == SPEC and old.last_applied is None
        assert "annotations" not in old.to_json()["metadata"]
        obj, result = store.apply(MD, "default", "iris", labels={}, spec=SPEC, last_applied={}, now=2)
        assert result == "configured" and obj.resource_version == 8
    with Store(tmp_path) as reopened:
        assert reopened.get(MD, "default", "iris").last_applied == {}


def test_mark_deleted_is_idempotent_and_remove_drops(store: Store) -> None:
    store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    marked = store.mark_deleted(MD, "default", "iris", now=1_764_420_807)
    assert marked.to_json()["metadata"]["deletionTimestamp"] == "2025-11-29T12:53:27Z"
    assert store.mark_deleted(MD, "default", "iris", now=99_999_999_999) == marked
    removed = store.remove(MD, "default", "iris")
    assert removed.resource_version == marked.resource_version + 1
    assert store.find(MD, "default", "iris") is None
    with pytest.raises(NotFound):
        store.remove(MD, "default", "iris")


def test_changes_since_reports_added_modified_deleted(store: Store) -> None:
    start = store.current_rv()
    store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    store.apply("Job", "default", "train", labels={}, spec={}, now=1)
    store.update_status(MD, "default", "iris", {"phase": "Ready"}, now=2)
    store.mark_deleted(MD, "default", "iris", now=3)
    store.remove(MD, "default", "iris")

    changes = store.changes_since(start)
    assert [(c.type, c.object.kind, c.rv) for c in changes] == [
        (ChangeType.ADDED, MD, start + 1),
        (ChangeType.ADDED, "Job", start + 2),
        (ChangeType.MODIFIED, MD, start + 3),
        (ChangeType.MODIFIED, MD, start + 4),
        (ChangeType.DELETED, MD, start + 5),
    ]
    assert changes[2].object.status == {"phase": "Ready"}
    assert changes[-1].object.deletion_timestamp == 3
    assert changes[-1].to_json()["type"] == "DELETED"
    assert [c.rv for c in store.changes_since(start, kinds=["Job"])] == [start + 2]
    assert [c.rv for c in store.changes_since(start + 3)] == [start + 4, start + 5]
    assert [c.rv for c in store.changes_since(start, limit=2)] == [start + 1, start + 2]
    assert store.changes_since(store.current_rv()) == []


def test_changes_older_than_the_kept_history_are_expired(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("modelplane.store.objects.CHANGES_KEPT", 5)
    for replicas in range(12):
        store.apply(MD, "default", "iris", labels={}, spec={"replicas": replicas}, now=1)
    assert store.current_rv() == 12
    assert [c.rv for c in store.changes_since(7)] == [8, 9, 10, 11, 12]
    with pytest.raises(Expired) as caught:
        store.changes_since(6)
    assert caught.value.status == 410
    assert "resourceVersion 6 are no longer kept" in str(caught.value)


def test_reopening_keeps_objects_and_resource_version_monotonic(tmp_path: Path) -> None:
    with Store(tmp_path) as first:
        first.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
        first.apply(MD, "default", "iris", labels={"a": "b"}, spec=SPEC, now=2)
        first.remove(MD, "default", "iris")
        before = first.current_rv()
    with Store(tmp_path) as second:
        assert second.current_rv() == before
        obj, result = second.apply(MD, "default", "iris", labels={}, spec=SPEC, now=3)
        assert result == "created"
        assert obj.resource_version == before + 1
        assert [c.type for c in second.changes_since(before - 1)] == [ChangeType.DELETED, ChangeType.ADDED]


def test_a_failed_write_changes_nothing(store: Store) -> None:
    store.apply(MD, "default", "iris", labels={}, spec=SPEC, now=1)
    rv = store.current_rv()
    with pytest.raises(TypeError):
        store.apply(MD, "default", "iris", labels={}, spec={"bad": object()}, now=2)
    with pytest.raises(Conflict):
        store.update(MD, "default", "iris", spec={}, expected_rv=rv - 1, now=2)
    assert store.current_rv() == rv
    assert store.get(MD, "default", "iris").spec == SPEC


def test_concurrent_writers_from_threads_lose_nothing(store: Store) -> None:
    def write(worker: int) -> None:
        for index in range(50):
            store.apply(MD, "default", f"w{worker}-{index}", labels={}, spec={}, now=1)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list(MD)) == 200
    assert store.current_rv() == 200
    assert [c.rv for c in store.changes_since(0, limit=500)] == list(range(1, 201))


def test_errors_carry_status_and_public_names_exist() -> None:
    assert [cls.status for cls in (NotFound, AlreadyExists, Conflict, Expired)] == [404, 409, 409, 410]
    assert all(issubclass(cls, StoreError) for cls in (NotFound, AlreadyExists, Conflict, Expired))
    assert [name for name in store_package.__all__ if not hasattr(store_package, name)] == []


def test_store_imports_only_lower_layers() -> None:
    import ast

    for module in Path(store_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelplane"):
                assert node.module.split(".")[1] in {"store", "spec"}, f"{module.name} imports {node.module}"
