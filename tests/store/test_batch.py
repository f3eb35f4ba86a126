"""`Store.batch()`: many writes in one SQLite transaction, each still its own write to whoever reads
the change log (a pass creating 10,000 replicas paid a commit per replica: ~4 ms each)."""

from __future__ import annotations

import threading

import pytest

from modelplane.store import AlreadyExists, ChangeType, NotFound, Store


def _begins(store: Store) -> list[str]:
    statements: list[str] = []
    store._db._conn.set_trace_callback(statements.append)
    return statements


def test_a_batch_is_one_transaction_and_each_write_keeps_its_resource_version_and_change(
    store: Store,
) -> None:
    store.create("Replica", "default", "before", labels={}, spec={}, now=1.0)
    start = store.current_rv()
    statements = _begins(store)
    with store.batch():
        made = [store.create("Replica", "default", f"r{i}", labels={}, spec={}, now=2.0) for i in range(5)]
        store.update_status("Replica", "default", "r1", {"phase": "Scheduled"}, now=2.0)
        store.record_event(
            kind="Replica",
            namespace="default",
            name="r1",
            type="Normal",
            reason="Scheduled",
            message="x",
            now=2.0,
        )
        with pytest.raises(AlreadyExists):  # caught inside the batch: undoes only itself
            store.create("Replica", "default", "r0", labels={}, spec={}, now=2.0)
        assert len(store.list("Replica")) == 6  # the batch reads its own writes
    store._db._conn.set_trace_callback(None)
    assert sum(s.startswith("BEGIN") for s in statements) == 1
    assert sum(s == "COMMIT" for s in statements) == 1
    assert [m.resource_version for m in made] == list(range(start + 1, start + 6))
    changes = store.changes_since(start)
    assert [(c.type, c.object.name, c.rv) for c in changes] == [
        *[(ChangeType.ADDED, f"r{i}", start + 1 + i) for i in range(5)],
        (ChangeType.MODIFIED, "r1", start + 6),
    ]
    assert store.current_rv() == start + 6
    assert store.get("Replica", "default", "r1").status == {"phase": "Scheduled"}
    assert [e.reason for e in store.events(name="r1")] == ["Scheduled"]


def test_an_error_leaving_a_batch_rolls_back_every_write_of_it_and_says_so(store: Store) -> None:
    store.create("Replica", "default", "kept", labels={}, spec={}, now=1.0)
    start = store.current_rv()
    assert len(store.list("Replica")) == 1
    with pytest.raises(NotFound) as raised, store.batch():
        store.create("Replica", "default", "r0", labels={}, spec={}, now=2.0)
        store.update_status("Replica", "default", "kept", {"phase": "Running"}, now=2.0)
        store.record_event(
            kind="Replica",
            namespace="default",
            name="r0",
            type="Normal",
            reason="Created",
            message="x",
            now=2.0,
        )
        assert len(store.list("Replica")) == 2
        store.update_status("Replica", "default", "missing", {}, now=2.0)  # NotFound, not caught
    assert "every write of this batch was rolled back" in "".join(raised.value.__notes__)
    assert store.current_rv() == start and store.changes_since(start) == []
    assert [o.name for o in store.list("Replica")] == ["kept"]  # not the one listed inside the batch
    assert store.get("Replica", "default", "kept").status == {}
    assert store.events(name="r0") == []
    after = store.create("Replica", "default", "r1", labels={}, spec={}, now=3.0)  # takes rv start + 1 again
    assert after.resource_version == start + 1
    assert [o.name for o in store.list("Replica")] == ["kept", "r1"]


def test_other_threads_see_a_batch_only_once_it_is_committed(store: Store) -> None:
    seen: list[int] = []
    inside = threading.Event()
    with store.batch():
        for i in range(3):
            store.create("Replica", "default", f"r{i}", labels={}, spec={}, now=1.0)
        reader = threading.Thread(target=lambda: (inside.set(), seen.append(len(store.list("Replica")))))
        reader.start()
        assert inside.wait(5)
        store.create("Replica", "default", "r3", labels={}, spec={}, now=1.0)
        assert not seen  # waiting for the commit
    reader.join(5)
    assert seen == [4]


def test_a_batch_inside_a_batch_is_part_of_it(store: Store) -> None:
    with pytest.raises(RuntimeError), store.batch():
        store.create("Replica", "default", "a", labels={}, spec={}, now=1.0)
        with store.batch():
            store.create("Replica", "default", "b", labels={}, spec={}, now=1.0)
        raise RuntimeError("after the inner batch")
    assert store.list("Replica") == []
