"""Usage samples for right-sizing: per deployment, oldest first, bounded in time and in rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from modelplane.store import USAGE_RETENTION_S, Store, UsageSample
from modelplane.store import usage as usage_module


def sample(
    store: Store, at: float, *, deployment: str = "iris", replica: str = "iris-a", cpu: int = 10
) -> None:
    store.record_usage(
        namespace="default",
        deployment=deployment,
        replica=replica,
        cpu_millis=cpu,
        memory_bytes=100 << 20,
        now=at,
    )


def test_samples_come_back_per_deployment_oldest_first(store: Store) -> None:
    sample(store, 20, replica="iris-b", cpu=30)
    sample(store, 10, replica="iris-a", cpu=5)
    sample(store, 15, deployment="other", replica="other-a")
    store.record_usage(
        namespace="staging", deployment="iris", replica="iris-c", cpu_millis=1, memory_bytes=1, now=12
    )
    store.record_usage(
        namespace="default", deployment="iris", replica="iris-a", cpu_millis=None, memory_bytes=None, now=25
    )
    assert store.usage("default", "iris") == [
        UsageSample("default", "iris", "iris-a", 10, 5, 100 << 20),
        UsageSample("default", "iris", "iris-b", 20, 30, 100 << 20),
        UsageSample("default", "iris", "iris-a", 25, None, None),
    ]
    assert [s.at for s in store.usage("default", "iris", since=20)] == [20, 25]
    assert store.usage("default", "nothing") == []


def test_samples_older_than_a_day_before_the_newest_are_dropped(store: Store) -> None:
    sample(store, 1000)
    sample(store, 2000)
    sample(store, 1000 + USAGE_RETENTION_S, deployment="other")
    assert [s.at for s in store.usage("default", "iris")] == [1000, 2000]
    sample(store, 1000.5 + USAGE_RETENTION_S, deployment="other")
    assert [s.at for s in store.usage("default", "iris")] == [2000]


def test_only_the_newest_rows_are_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage_module, "USAGE_SAMPLES_KEPT", 3)
    for at in range(5):
        sample(store, at)
    assert [s.at for s in store.usage("default", "iris")] == [2, 3, 4]


def test_a_state_db_from_before_usage_samples_opens_and_records(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store(state) as first:
        first.apply("ModelDeployment", "default", "iris", labels={}, spec={"replicas": 1}, now=1)
    with sqlite3.connect(state / "state.db") as conn:  # as a modelplane without the table left it
        conn.execute("DROP TABLE usage_samples")
    with Store(state) as reopened:
        assert reopened.get("ModelDeployment", "default", "iris").spec == {"replicas": 1}
        sample(reopened, 5)
        assert len(reopened.usage("default", "iris")) == 1
    with Store(state) as again:  # opening twice creates nothing twice and loses nothing
        assert len(again.usage("default", "iris")) == 1


def test_recording_a_sample_does_not_move_the_resource_version(store: Store) -> None:
    before = store.current_rv()
    sample(store, 1)
    assert store.current_rv() == before
