"""kubectl-style kind names: what a user may type for KIND, and what the API calls it.

Pure: no I/O. A user types a singular, plural or short name in any case (`md`, `Deployments`,
`replica`); `resolve` answers the kind's `KindInfo`, whose `plural` is the `{kind}` segment of the API
(`/api/v1/modeldeployments`). `for_kind` goes the other way, from the `kind` field of an object or an
apply result (`ModelDeployment`) to the same `KindInfo`.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "modelplane.dev"


class UnknownKind(ValueError):
    """A KIND the CLI does not know; the message lists the names it does."""


@dataclass(frozen=True)
class KindInfo:
    kind: str
    """The `kind` field of the objects, e.g. `ModelDeployment`."""
    plural: str
    """The API's name, e.g. `modeldeployments` in `/api/v1/modeldeployments`."""
    names: tuple[str, ...]
    """Every name a user may type, lower case: singular, plural, then short names."""
    cluster_scoped: bool = False
    """Namespaces and NodePools belong to no namespace."""
    listed_only: bool = False
    """Events: the API lists them, but has no per-object path for them."""

    @property
    def resource(self) -> str:
        """`modeldeployment.modelplane.dev`, as kubectl names a resource in its messages."""
        return f"{self.kind.lower()}.{GROUP}"


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        "ModelDeployment",
        "modeldeployments",
        ("modeldeployment", "modeldeployments", "deployment", "deployments", "deploy", "md"),
    ),
    KindInfo("Replica", "replicas", ("replica", "replicas", "rep", "rs")),
    KindInfo("NodePool", "nodepools", ("nodepool", "nodepools", "np", "pool", "pools"), cluster_scoped=True),
    KindInfo("Namespace", "namespaces", ("namespace", "namespaces", "ns"), cluster_scoped=True),
    KindInfo("Job", "jobs", ("job", "jobs")),
    KindInfo("Event", "events", ("event", "events", "ev"), listed_only=True),
    KindInfo(
        "Autoscaler",
        "autoscalers",
        ("autoscaler", "autoscalers", "hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"),
        listed_only=True,
    ),
)

_BY_NAME = {name: info for info in KINDS for name in info.names}
_BY_KIND = {info.kind.lower(): info for info in KINDS}


def valid_names() -> str:
    """One line per kind: `modeldeployments (modeldeployment, deployment, deployments, deploy, md)`."""
    lines = []
    for info in KINDS:
        others = ", ".join(name for name in info.names if name != info.plural)
        lines.append(f"  {info.plural} ({others})")
    return "\n".join(lines)


def resolve(name: str) -> KindInfo:
    """The kind a user means by `name` (case-insensitive; `deploy`, `MD`, `replicas`, …)."""
    key = name.strip().lower()
    # `modeldeployments.modelplane.dev`, as kubectl prints it, names the kind too.
    if key.endswith(f".{GROUP}"):
        key = key.removesuffix(f".{GROUP}")
    info = _BY_NAME.get(key)
    if info is None:
        raise UnknownKind(f"unknown kind {name!r}; modelplane knows:\n{valid_names()}")
    return info


def for_kind(kind: str) -> KindInfo:
    """The kind of an object from its `kind` field (`ModelDeployment`); unknown kinds are an error."""
    info = _BY_KIND.get(kind.lower())
    if info is None:
        raise UnknownKind(f"the control plane answered with an unknown kind {kind!r}; upgrade the CLI.")
    return info


def split_ref(ref: str) -> tuple[KindInfo | None, str]:
    """`replica/iris-abc` → (Replica, `iris-abc`); a bare `iris` → (None, `iris`)."""
    kind, slash, name = ref.partition("/")
    if not slash:
        return None, ref
    return resolve(kind), name
