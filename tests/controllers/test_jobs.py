"""The Job controller's planner: batch/v1 semantics on the pure `plan_job` (time passed in)."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.controllers.jobs import (
    JobRefused,
    JobReplica,
    admit,
    failure_backoff,
    finished_condition,
    plan_job,
)
from modelplane.spec import JobSpec
from modelplane.spec.replica import ReplicaPhase
from modelplane.store import StoredObject

NOW = 1000.0


def job(**fields: Any) -> JobSpec:
    return JobSpec.model_validate({"command": ["true"], **fields})


def running(name: str, created: float = 0.0, *, restarts: int = 0) -> JobReplica:
    return JobReplica(name, phase=ReplicaPhase.RUNNING, created=created, ready=True, restarts=restarts)


def pending(name: str, created: float = 0.0) -> JobReplica:
    return JobReplica(name, phase=ReplicaPhase.PENDING, created=created)


def succeeded(name: str, at: float = 0.0) -> JobReplica:
    return JobReplica(name, phase=ReplicaPhase.SUCCEEDED, created=0.0, finished_at=at)


def failed(name: str, at: float = 0.0) -> JobReplica:
    return JobReplica(name, phase=ReplicaPhase.FAILED, created=0.0, finished_at=at)


def started(at: float = NOW - 1) -> dict[str, Any]:
    return {"startTime": at}


@pytest.mark.parametrize(
    ("spec", "replicas", "create"),
    [
        (job(), [], 1),  # a new Job starts one replica
        (job(completions=5, parallelism=2), [], 2),  # parallelism caps what runs at once
        (job(completions=5, parallelism=2), [running("a")], 1),
        (job(completions=5, parallelism=3), [succeeded("a"), succeeded("b"), succeeded("c")], 2),
        (job(completions=3, parallelism=3), [succeeded("a"), running("b")], 1),  # never past completions
        (job(completions=2, parallelism=2), [running("a"), pending("b")], 0),
    ],
)
def test_replicas_wanted_are_min_of_parallelism_and_completions_left(
    spec: JobSpec, replicas: list[JobReplica], create: int
) -> None:
    plan = plan_job(spec, started(), replicas, now=NOW)
    assert plan.create == create
    assert plan.delete == ()


def test_a_lowered_parallelism_stops_pending_then_newest_replicas() -> None:
    replicas = [running("old", 1.0), running("new", 5.0), pending("waiting", 3.0)]
    plan = plan_job(job(completions=10, parallelism=1), started(), replicas, now=NOW)
    assert plan.delete == ("waiting", "new")


def test_complete_when_completions_succeeded() -> None:
    plan = plan_job(job(completions=2), started(900.0), [succeeded("a"), succeeded("b")], now=NOW)
    done = finished_condition(plan.status)
    assert done is not None and done["type"] == "Complete" and done["reason"] == "CompletionsReached"
    assert plan.status["completionTime"] == NOW and plan.status["succeeded"] == 2
    assert [e.reason for e in plan.events] == ["Completed"]
    assert plan.create == 0


def test_a_finished_job_does_nothing_more_and_keeps_its_counts() -> None:
    status = plan_job(job(), started(), [succeeded("a")], now=NOW).status
    later = plan_job(job(), status, [succeeded("a"), failed("stray")], now=NOW + 5)
    assert later.create == 0 and later.events == ()
    assert later.status["succeeded"] == 1 and later.status["failed"] == 0


def test_never_restart_fails_after_more_than_backoff_limit_failures() -> None:
    replicas = [failed(str(i), at=NOW - 500 + i) for i in range(3)]
    assert finished_condition(plan_job(job(backoffLimit=3), started(), replicas, now=NOW).status) is None
    plan = plan_job(job(backoffLimit=2), started(), replicas, now=NOW)
    done = finished_condition(plan.status)
    assert done is not None and done["type"] == "Failed" and done["reason"] == "BackoffLimitExceeded"
    assert done["message"] == "Job has reached the specified backoff limit"
    assert plan.failed_replica == "2"  # the latest failure, whose log the event quotes


def test_backoff_limit_zero_fails_on_the_first_failure() -> None:
    plan = plan_job(job(backoffLimit=0), started(), [failed("a", at=NOW - 1)], now=NOW)
    assert finished_condition(plan.status) is not None


@pytest.mark.parametrize(
    ("limit", "restarts", "fails"),
    [(6, 5, False), (6, 6, True), (0, 0, False), (0, 1, True)],
)
def test_on_failure_counts_restarts_in_place(limit: int, restarts: int, fails: bool) -> None:
    spec = job(restartPolicy="OnFailure", backoffLimit=limit)
    plan = plan_job(spec, started(), [running("a", restarts=restarts)], now=NOW)
    assert (finished_condition(plan.status) is not None) is fails
    if fails:
        assert plan.delete == ("a",)  # the running replica is stopped


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 600.0), (20, 600.0), (5000, 600.0)],
)
def test_failure_backoff_doubles_from_10s_capped_at_10min(failures: int, delay: float) -> None:
    # Kubernetes: DefaultJobPodFailureBackOff = 10 * time.Second, MaxJobPodFailureBackOff = 10 * time.Minute
    # (pkg/controller/job/job_controller.go); the 7th failure waits 600 s, not 640 s nor 360 s
    assert failure_backoff(failures) == delay


def test_the_seventh_failure_in_a_row_waits_ten_minutes() -> None:
    replicas = [failed(str(i), at=NOW - 100 + i) for i in range(7)]
    last = NOW - 100 + 6
    spec = job(backoffLimit=10)
    waiting = plan_job(spec, started(), replicas, now=last + 599)
    assert waiting.create == 0 and waiting.status["retryAt"] == last + 600
    assert plan_job(spec, started(), replicas, now=last + 600).create == 1


def test_a_failed_replica_is_replaced_after_the_backoff() -> None:
    replicas = [failed("a", at=NOW - 5)]  # one failure: 10 s back-off, 5 s left
    waiting = plan_job(job(), started(), replicas, now=NOW)
    assert waiting.create == 0 and waiting.status["retryAt"] == NOW + 5
    assert plan_job(job(), started(), replicas, now=NOW + 5).create == 1
    two = [failed("a", at=NOW - 30), failed("b", at=NOW - 15)]  # two in a row: 20 s from the last
    assert plan_job(job(), started(), two, now=NOW).create == 0
    assert plan_job(job(), started(), two, now=NOW + 5).create == 1


def test_a_success_resets_the_backoff() -> None:
    replicas = [failed("a", at=NOW - 50), failed("b", at=NOW - 40), succeeded("c", at=NOW - 30)]
    plan = plan_job(job(completions=2), started(), replicas, now=NOW)
    assert plan.create == 1 and "retryAt" not in plan.status


def test_active_deadline_fails_the_job_and_stops_its_replicas() -> None:
    spec = job(activeDeadlineSeconds=60)
    assert finished_condition(plan_job(spec, started(NOW - 59), [running("a")], now=NOW).status) is None
    plan = plan_job(spec, started(NOW - 60), [running("a")], now=NOW)
    done = finished_condition(plan.status)
    assert done is not None and done["reason"] == "DeadlineExceeded"
    assert done["message"] == "Job was active longer than specified deadline"
    assert plan.delete == ("a",)


# Kubernetes' TestSyncJobPastDeadline (pkg/controller/job/job_controller_test.go): the running pod is
# deleted and counted failed in the same sync ("When the job is considered finished, every
# non-terminated pod is considered failed", trackJobStatusAndRemoveFinalizers)
@pytest.mark.parametrize(
    ("completions", "replicas", "counts"),
    [
        (1, [running("a")], (0, 0, 1)),  # "activeDeadlineSeconds less than single pod execution"
        (2, [succeeded("s"), running("a")], (0, 1, 1)),  # "... bigger than single pod execution"
        (1, [], (0, 0, 0)),  # "activeDeadlineSeconds times-out before any pod starts"
        (2, [pending("p")], (0, 0, 1)),  # a replica not yet running is stopped, so counted, too
    ],
)
def test_replicas_stopped_by_the_deadline_count_as_failed(
    completions: int, replicas: list[JobReplica], counts: tuple[int, int, int]
) -> None:
    spec = job(completions=completions, activeDeadlineSeconds=10)
    plan = plan_job(spec, started(NOW - 15), replicas, now=NOW)
    done = finished_condition(plan.status)
    assert done is not None and done["reason"] == "DeadlineExceeded"
    assert (plan.status["active"], plan.status["succeeded"], plan.status["failed"]) == counts
    assert plan.delete == tuple(r.name for r in replicas if r.active)
    # the next passes (the victims now being deleted, then gone) keep those counts
    stopping = [
        JobReplica(r.name, r.phase, r.created, deleting=r.active, finished_at=r.finished_at) for r in replicas
    ]
    later = plan_job(spec, plan.status, stopping, now=NOW + 1)
    assert (later.status["active"], later.status["succeeded"], later.status["failed"]) == counts
    assert plan_job(spec, later.status, [], now=NOW + 2).status["failed"] == counts[2]


def test_a_replica_stopped_by_the_backoff_limit_counts_as_failed() -> None:
    spec = job(restartPolicy="OnFailure", backoffLimit=2)  # pastBackoffLimitOnFailure: 2 restarts
    plan = plan_job(spec, started(), [running("a", restarts=2), succeeded("s")], now=NOW)
    done = finished_condition(plan.status)
    assert done is not None and done["reason"] == "BackoffLimitExceeded"
    assert (plan.status["active"], plan.status["succeeded"], plan.status["failed"]) == (0, 1, 1)
    never = job(completions=3, parallelism=2, backoffLimit=1)  # one failure too many with one running
    plan = plan_job(
        never, started(), [failed("x", at=NOW - 9), failed("y", at=NOW - 5), running("r")], now=NOW
    )
    assert plan.delete == ("r",) and plan.status["failed"] == 3


def test_start_time_is_set_once() -> None:
    first = plan_job(job(), {}, [], now=NOW)
    assert first.status["startTime"] == NOW
    assert plan_job(job(), first.status, [running("a")], now=NOW + 10).status["startTime"] == NOW


def test_a_replica_stopped_before_it_ended_is_replaced_not_counted_as_failed() -> None:
    stopped = JobReplica("a", phase=ReplicaPhase.RUNNING, created=0.0, deleting=True)
    plan = plan_job(job(backoffLimit=0), started(), [stopped], now=NOW)
    assert plan.status["failed"] == 0 and finished_condition(plan.status) is None
    assert plan.create == 1  # at once: no back-off, it did not fail


def test_lowering_parallelism_fails_nothing() -> None:
    replicas = [running("a", 1.0), running("b", 2.0), running("c", 3.0)]
    first = plan_job(job(completions=10, parallelism=1, backoffLimit=0), started(), replicas, now=NOW)
    assert first.delete == ("c", "b")
    victims = [replicas[0], *(JobReplica(n, ReplicaPhase.RUNNING, 0.0, deleting=True) for n in "bc")]
    later = plan_job(job(completions=10, parallelism=1, backoffLimit=0), first.status, victims, now=NOW)
    assert later.status["failed"] == 0 and finished_condition(later.status) is None


def test_each_finished_replica_counts_once_even_after_its_record_is_gone() -> None:
    spec = job(completions=3, backoffLimit=5)
    status = plan_job(spec, started(), [succeeded("a"), failed("b", at=NOW - 100)], now=NOW).status
    assert (status["succeeded"], status["failed"]) == (1, 1)
    # `modelplane down` removed both records; a new failure still counts (2 failures, not max(1, 1))
    status = plan_job(spec, status, [failed("c", at=NOW - 50)], now=NOW).status
    assert (status["succeeded"], status["failed"]) == (1, 2)
    status = plan_job(spec, status, [failed("c", at=NOW - 50), succeeded("d")], now=NOW).status
    assert (status["succeeded"], status["failed"]) == (2, 2)  # c is not counted twice
    # a Succeeded replica being deleted (a drain) stays a success
    leaving = JobReplica("d", phase=ReplicaPhase.SUCCEEDED, created=0.0, deleting=True)
    assert plan_job(spec, status, [leaving], now=NOW).status["succeeded"] == 2


def test_ttl_deletes_the_job_that_long_after_it_finished() -> None:
    spec = job(ttlSecondsAfterFinished=30)
    status = plan_job(spec, started(), [succeeded("a")], now=NOW).status
    assert not plan_job(spec, status, [succeeded("a")], now=NOW + 29).delete_job
    assert plan_job(spec, status, [succeeded("a")], now=NOW + 30).delete_job
    assert not plan_job(job(), status, [succeeded("a")], now=NOW + 10**6).delete_job  # no TTL: kept


def stored_job(spec: dict[str, Any], *, deleting: bool = False) -> StoredObject:
    return StoredObject(
        kind="Job", namespace="default", name="train", uid="u", generation=1, resource_version=1,
        labels={}, spec=spec, status={}, created=0.0, updated=0.0,
        deletion_timestamp=5.0 if deleting else None,
    )  # fmt: skip


def test_admit_resolves_the_working_dir_against_the_applied_file(tmp_path: Any) -> None:
    spec = admit(None, {"command": ["true"], "workingDir": "sub"}, base_dir=tmp_path)
    assert spec["workingDir"] == str(tmp_path / "sub")
    assert admit(None, {"command": ["true"]}, base_dir=tmp_path)["workingDir"] == str(tmp_path)


def test_admit_allows_mutable_fields_and_refuses_the_rest(tmp_path: Any) -> None:
    old = {"command": ["true"], "parallelism": 1, "workingDir": str(tmp_path)}
    changed = admit(stored_job(old), {**old, "parallelism": 3}, base_dir=tmp_path)
    assert changed["parallelism"] == 3
    with pytest.raises(JobRefused, match=r"spec.command: field is immutable.*modelplane delete job train"):
        admit(stored_job(old), {**old, "command": ["false"]}, base_dir=tmp_path)
    with pytest.raises(JobRefused, match="being deleted"):
        admit(stored_job(old, deleting=True), old, base_dir=tmp_path)
