"""Controllers: the level-triggered loops of the control plane (Kubernetes' kube-controller-manager).

Each controller reads desired and observed state fresh from the store, asks a pure planner what to do,
and applies the plan idempotently: deployments (revisions and their replicas), jobs, namespaces,
scheduling (Pending replicas onto pools), garbage collection of owned objects.

The planners are pure modules with time passed in — the rollout planner (`rollout/`), disruption
budgets, admission (namespace quotas), right-sizing — and import nothing from the store, the runtime,
the network or the API (an import-linter contract in pyproject.toml keeps it so). Modules are imported
by name (`from modelplane.controllers import deployments`); this package re-exports nothing.
"""
