"""The endpoints table: which replicas serve which deployment version, and the traffic split.

Its shape is the answer of `GET /api/v1/endpoints` (docs/control-plane.md); a JSON file of the same
shape drives a standalone router. Parsed once per change at the edge (pydantic, frozen); the router
trusts these types afterwards. Unknown fields are ignored, not refused: the control plane may add
fields to the table before the router knows them, and a router must not stop serving for that.
"""

from __future__ import annotations

from collections.abc import Mapping

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from modelplane.router.errors import TableError

DEFAULT_NAMESPACE = "default"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Endpoint(_Frozen):
    replica: str
    version: str = ""
    address: str = Field(pattern=r"^\S+:\d+$")
    ready: bool
    terminating: bool = False


class Traffic(_Frozen):
    version: str = ""
    weight: int = Field(default=1, ge=0, le=1_000_000)  # Gateway API backendRef weight


class Deployment(_Frozen):
    namespace: str = DEFAULT_NAMESPACE
    name: str
    concurrency: int | None = Field(default=None, ge=1)
    replicas: int | None = Field(default=None, ge=0)
    """Replicas the deployment wants (0: scaled to 0 or being deleted; None: not said)."""
    traffic: tuple[Traffic, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def live_versions(self) -> list[str]:
        """Versions with a traffic entry or an endpoint, in traffic order then endpoint order."""
        seen = dict.fromkeys(t.version for t in self.traffic)
        seen.update(dict.fromkeys(e.version for e in self.endpoints))
        return list(seen)

    def weights(self) -> list[tuple[str, int]]:
        """The traffic split; without one every live version weighs 1 (the Gateway API default)."""
        if self.traffic:
            return [(t.version, t.weight) for t in self.traffic]
        return [(v, 1) for v in self.live_versions()]


class EndpointsTable(_Frozen):
    resource_version: int = Field(default=0, alias="resourceVersion")
    deployments: tuple[Deployment, ...] = ()

    def by_key(self) -> Mapping[tuple[str, str], Deployment]:
        return {d.key: d for d in self.deployments}


def parse_table(data: bytes | str, *, source: str) -> EndpointsTable:
    """The table in `data` (JSON), or TableError naming `source` and the bad fields."""
    try:
        table = EndpointsTable.model_validate_json(data)
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()
        )
        raise TableError(f"the endpoints table from {source} is invalid: {problems}.") from error
    keys = [d.key for d in table.deployments]
    duplicates = sorted({f"{ns}/{name}" for ns, name in keys if keys.count((ns, name)) > 1})
    if duplicates:
        raise TableError(f"the endpoints table from {source} lists {', '.join(duplicates)} more than once.")
    return table
