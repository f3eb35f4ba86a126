"""The control plane's state in SQLite (WAL): objects with generation and resourceVersion, a change
log to watch, events, replicas' usage samples (for right-sizing), and Kubernetes label selectors.

This is the only door into the package; import from `modelplane.store`, not its modules.

    from modelplane.store import Store, Conflict
    store = Store(state_dir)
    obj, result = store.apply("ModelDeployment", "default", "iris", labels={}, spec={...}, now=time.time())
    for change in store.changes_since(rv): ...
"""

from modelplane.store.db import FILE_NAME, SCHEMA_VERSION
from modelplane.store.errors import (
    AlreadyExists,
    Conflict,
    Expired,
    IncompatibleState,
    NotFound,
    ObjectError,
    StoreError,
)
from modelplane.store.events import AGGREGATION_WINDOW, EVENTS_KEPT, Event, EventType
from modelplane.store.objects import (
    CHANGES_KEPT,
    CLUSTER_SCOPED_KINDS,
    LAST_APPLIED_ANNOTATION,
    Change,
    ChangeType,
    JsonObject,
    StoredObject,
    rfc3339,
)
from modelplane.store.private import open_private, private_dir, write_private
from modelplane.store.selectors import Operator, Requirement, Selector, parse_selector
from modelplane.store.store import ApplyResult, Store
from modelplane.store.usage import USAGE_RETENTION_S, USAGE_SAMPLES_KEPT, UsageSample

__all__ = [
    "AGGREGATION_WINDOW",
    "CHANGES_KEPT",
    "CLUSTER_SCOPED_KINDS",
    "EVENTS_KEPT",
    "FILE_NAME",
    "LAST_APPLIED_ANNOTATION",
    "SCHEMA_VERSION",
    "USAGE_RETENTION_S",
    "USAGE_SAMPLES_KEPT",
    "AlreadyExists",
    "ApplyResult",
    "Change",
    "ChangeType",
    "Conflict",
    "Event",
    "EventType",
    "Expired",
    "IncompatibleState",
    "JsonObject",
    "NotFound",
    "ObjectError",
    "Operator",
    "Requirement",
    "Selector",
    "Store",
    "StoreError",
    "StoredObject",
    "UsageSample",
    "open_private",
    "parse_selector",
    "private_dir",
    "rfc3339",
    "write_private",
]
