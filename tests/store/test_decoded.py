"""Listing decodes only what changed: the loops list every replica several times a second, so an
unchanged row is served from the objects decoded before, and a changed one is always fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.store import Store, listings, objects


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = objects._from_row

    def counting(row: tuple[object, ...]) -> objects.StoredObject:
        seen.append(str(row[2]))
        return real(row)

    def counting_changes(text: str) -> objects.StoredObject:
        obj = real_change(text)
        seen.append(obj.name)
        return obj

    real_change = listings.decode_change
    monkeypatch.setattr(objects, "_from_row", counting)
    monkeypatch.setattr(listings, "decode_change", counting_changes)
    return seen


def test_a_second_listing_decodes_only_the_changed_object(tmp_path: Path, decodes: list[str]) -> None:
    store = Store(tmp_path)
    for i in range(20):
        store.create("Replica", "default", f"r{i}", labels={}, spec={"port": i}, now=1.0)
    assert len(store.list("Replica")) == 20
    store.update_status("Replica", "default", "r3", {"ready": True}, now=2.0)
    decodes.clear()
    listed = {obj.name: obj for obj in store.list("Replica")}
    assert decodes == ["r3"]
    assert listed["r3"].status == {"ready": True} and listed["r4"].status == {}


def test_removed_objects_are_not_listed_and_namespaced_listings_agree(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for namespace in ("a", "b"):
        store.create("Namespace", "", namespace, labels={}, spec={}, now=1.0)
        for i in range(3):
            store.create("Replica", namespace, f"r{i}", labels={}, spec={}, now=1.0)
    store.list("Replica")
    store.remove("Replica", "a", "r1")
    assert [(o.namespace, o.name) for o in store.list("Replica", namespace="a")] == [("a", "r0"), ("a", "r2")]
    assert len(store.list("Replica")) == 5


def test_many_changed_objects_are_all_listed_fresh(tmp_path: Path, decodes: list[str]) -> None:
    store = Store(tmp_path)
    for i in range(100):
        store.create("Replica", "default", f"r{i:03}", labels={}, spec={}, now=1.0)
    store.list("Replica")
    for i in range(0, 100, 2):  # 50 changed: read one by one; then all 100: one scan
        store.update_status("Replica", "default", f"r{i:03}", {"n": 1}, now=2.0)
    decodes.clear()
    assert [o.status for o in store.list("Replica")] == [{"n": 1}, {}] * 50
    assert len(decodes) == 50
    for i in range(100):
        store.update_status("Replica", "default", f"r{i:03}", {"n": 2}, now=3.0)
    assert [o.status for o in store.list("Replica")] == [{"n": 2}] * 100


def test_a_few_hundred_moved_of_thousands_are_read_by_key_not_by_scanning_the_table(tmp_path: Path) -> None:
    # a list of 10,000 replicas read every row's JSON to decode the ~200 whose status moved (~250 ms)
    store = Store(tmp_path)
    for i in range(1000):
        store.create("Replica", "default", f"r{i:04}", labels={}, spec={}, now=1.0)
    store.list("Replica")
    for i in range(0, 1000, 10):  # 100 moved: more than 64, far fewer than the rows listed
        store.update_status("Replica", "default", f"r{i:04}", {"n": 1}, now=2.0)
    statements: list[str] = []
    store._db._conn.set_trace_callback(statements.append)
    listed = store.list("Replica")
    store._db._conn.set_trace_callback(None)
    assert [o.status for o in listed[:2]] == [{"n": 1}, {}]
    whole_rows = [s for s in statements if "spec, status" in s and "name = " not in s]
    assert whole_rows == []


def test_the_resource_versions_are_read_from_an_index_not_the_rows(tmp_path: Path) -> None:
    store = Store(tmp_path)
    plan = store._db._conn.execute(
        "EXPLAIN QUERY PLAN SELECT namespace, name, resource_version FROM objects WHERE kind = 'Replica' "
        "ORDER BY namespace, name"
    ).fetchall()
    assert "COVERING INDEX" in str(plan)


def test_lists_catch_up_from_the_change_log_and_read_the_rows_again_once_it_forgot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decodes: list[str]
) -> None:
    # the node agent lists 10,000 replicas ten times a second: reading even their resourceVersions
    # took ~45 ms each time; now a listing reads the changes after the last one
    store = Store(tmp_path)
    for namespace in ("a", "b"):
        store.create("Namespace", "", namespace, labels={}, spec={}, now=1.0)
        for i in range(5):
            store.create("Replica", namespace, f"r{i}", labels={"i": str(i)}, spec={}, now=1.0)
    store.list("Replica")
    statements: list[str] = []
    store._db._conn.set_trace_callback(statements.append)
    store.update_status("Replica", "b", "r1", {"n": 1}, now=2.0)
    store.remove("Replica", "a", "r2")
    store.create("Replica", "a", "r10", labels={}, spec={}, now=2.0)
    store.create("Replica", "a", "q", labels={}, spec={}, now=2.0)
    statements.clear()
    decodes.clear()
    listed = store.list("Replica")
    assert not [s for s in statements if "FROM objects" in s]
    assert sorted(decodes) == ["q", "r1", "r10", "r2"]
    assert [(o.namespace, o.name) for o in listed] == [
        ("a", "q"), ("a", "r0"), ("a", "r1"), ("a", "r10"), ("a", "r3"), ("a", "r4"),
        ("b", "r0"), ("b", "r1"), ("b", "r2"), ("b", "r3"), ("b", "r4"),
    ]  # fmt: skip
    assert listed[7].status == {"n": 1}
    assert [o.name for o in store.list("Replica", namespace="b", selector="i in (1,3)")] == ["r1", "r3"]
    listed.clear()  # a caller's list is its own
    assert len(store.list("Replica")) == 11
    monkeypatch.setattr(objects, "CHANGES_KEPT", 3)  # the log forgets what this listing would need
    for i in range(5):
        store.update_status("Replica", "a", f"r{i}" if i != 2 else "q", {"n": 2}, now=3.0)
    store.remove("Replica", "b", "r4")
    statements.clear()
    again = store.list("Replica")
    assert [s for s in statements if "FROM objects" in s]
    assert [o.name for o in again if o.status == {"n": 2}] == ["q", "r0", "r1", "r3", "r4"]
    assert len(again) == 10 and store.get("Replica", "a", "r0") == again[1]


class _CountingLookups(dict[tuple[str, str], objects.StoredObject]):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.lookups = 0

    def __getitem__(self, key: tuple[str, str]) -> objects.StoredObject:
        self.lookups += 1
        return super().__getitem__(key)


def test_catching_up_on_a_few_status_changes_costs_the_changes_not_the_listing(tmp_path: Path) -> None:
    # while 10,000 replicas turned ready, rebuilding the listing by key on every catch-up was 17% of
    # the control plane's samples: a catch-up adding or removing nothing touches only what moved
    store = Store(tmp_path)
    for i in range(200):
        store.create("Replica", "default", f"r{i:03}", labels={}, spec={}, now=1.0)
    first = store.list("Replica")
    counting = _CountingLookups(store._decoded["Replica"])
    store._decoded["Replica"] = counting
    store.update_status("Replica", "default", "r007", {"ready": True}, now=2.0)
    store.update_status("Replica", "default", "r150", {"ready": True}, now=2.0)
    listed = store.list("Replica")
    assert counting.lookups <= 2
    assert [o.name for o in listed if o.status] == ["r007", "r150"]
    assert [o.name for o in listed] == [o.name for o in first] and not first[7].status
    store.create("Replica", "default", "r0995", labels={}, spec={}, now=3.0)  # members move: sorted again
    store.update_status("Replica", "default", "r008", {"ready": True}, now=3.0)
    names = [o.name for o in store.list("Replica")]
    assert names == sorted(names) and len(names) == 201
    store.update_status("Replica", "default", "r199", {"ready": True}, now=4.0)
    again = store.list("Replica")
    assert [o.name for o in again if o.status] == ["r007", "r008", "r150", "r199"]
    assert [o.name for o in again] == names
