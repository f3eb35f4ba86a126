"""Request metrics on their way from the routers to the control plane (DESIGN.md, "Metrics flow one
way"): the router's report (`report`, the wire format), 1 s buckets (`buckets`) and the control
plane's bounded store of them (`store`). Pure data: no I/O; the router pushes, the API records and
serves, the autoscaler reads windows.
"""

from modelplane.metrics.buckets import Column, Ring, Summary, quantile, summarise, summary_of
from modelplane.metrics.report import (
    LATENCY_BOUNDS_S,
    ReplicaReport,
    ReportRefused,
    RouterReport,
    VersionReport,
    parse_report,
)
from modelplane.metrics.store import MetricsStore, VersionSeries

__all__ = [
    "LATENCY_BOUNDS_S",
    "Column",
    "MetricsStore",
    "ReplicaReport",
    "ReportRefused",
    "Ring",
    "RouterReport",
    "Summary",
    "VersionReport",
    "VersionSeries",
    "parse_report",
    "quantile",
    "summarise",
    "summary_of",
]
