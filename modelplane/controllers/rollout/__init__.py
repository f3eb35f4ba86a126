"""The rollout planner: a deployment's revisions and previous status in, the next step and status out.

Pure (STYLE.md rule 3): `now` is an argument, nothing is read or written; the deployment controller
(controllers/deployments.py) applies each step and calls again. Kubernetes' pkg/controller/deployment,
function by function, one module per concept:

- planning.py  — `plan_rollout` (syncDeployment), `plan_rolling`, `plan_recreate`: the next step;
- scaling.py   — `plan_scaling`: resizing without rolling forward (scaling events, paused);
- spec.py      — `RolloutSpec` (the settings the planner reads), `RolloutStep` (what it returns),
                 `resolve_fenceposts` and the surge / unavailable arithmetic;
- status.py    — `RolloutStatus`: counts, the Available / Progressing conditions, the deadline and
                 when to look again (`requeue_after`);
- revisions.py — `RevisionState`: numbering, history, cleanup, and the undo target.

This is the package's one door: import from `modelplane.controllers.rollout`, not its modules
(tests of one module's internals excepted). The canary planner joins here.
"""

from __future__ import annotations

from modelplane.controllers.rollout.planning import plan_recreate, plan_rolling, plan_rollout
from modelplane.controllers.rollout.revisions import (
    NoRolloutHistory,
    ReplicaFailure,
    RevisionNotFound,
    RevisionState,
    UndoPaused,
    cleanup_history,
    undo_target,
)
from modelplane.controllers.rollout.scaling import plan_scaling
from modelplane.controllers.rollout.spec import (
    RolloutSpec,
    RolloutStep,
    ScaleChange,
    max_surge,
    max_unavailable,
    resolve_fenceposts,
)
from modelplane.controllers.rollout.status import (
    Condition,
    ConditionStatus,
    ConditionType,
    Reason,
    RolloutStatus,
    requeue_after,
    set_condition,
)

__all__ = [
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "NoRolloutHistory",
    "Reason",
    "ReplicaFailure",
    "RevisionNotFound",
    "RevisionState",
    "RolloutSpec",
    "RolloutStatus",
    "RolloutStep",
    "ScaleChange",
    "UndoPaused",
    "cleanup_history",
    "max_surge",
    "max_unavailable",
    "plan_recreate",
    "plan_rolling",
    "plan_rollout",
    "plan_scaling",
    "requeue_after",
    "resolve_fenceposts",
    "set_condition",
    "undo_target",
]
