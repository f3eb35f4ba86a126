"""The declarative spec: typed objects, YAML loading, quantities, defaults and validation.

This is the only door into the package; import from `modelplane.spec`, not its modules. The spec
imports nothing else of modelplane (it is the lowest layer).

    from modelplane.spec import load_path, ModelDeployment
    result = load_path(Path("examples/nlp.yaml"))
    result.raise_for_errors()
    for md in result.of_kind(ModelDeployment): ...
"""

from modelplane.spec.autoscaling import (
    Autoscaling,
    Behavior,
    ConcurrencyMetric,
    CpuMetric,
    CustomMetric,
    MemoryMetric,
    Metric,
    MetricType,
    PolicyType,
    RpsMetric,
    ScaleDownRules,
    ScaleUpRules,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
)
from modelplane.spec.bounds import INT32_MAX, MAX_COMPLETIONS, MAX_REPLICAS
from modelplane.spec.deployment import (
    FORMATS_WITHOUT_URI,
    Batching,
    DisruptionBudget,
    ModelDeployment,
    ModelDeploymentSpec,
    ModelFormat,
    ModelSource,
    TrafficTarget,
)
from modelplane.spec.desired import (
    NO_SCALE,
    SCALE_STATUS,
    TEMPLATE_FIELDS,
    ScaleStatus,
    Share,
    Sized,
    Sizing,
    awaited_replicas,
    default_split,
    desired_replicas,
    replica_bounds,
    scale_refusal,
    sizing_of,
    template_hash,
)
from modelplane.spec.errors import DocumentRefused, FieldProblems, InvalidSpecError, QuantityError, SpecError
from modelplane.spec.job import Job, JobSpec, RestartPolicy
from modelplane.spec.kinds import KINDS, AnySpecObject, SpecObject
from modelplane.spec.loading import Loaded, LoadResult, load_data, load_path, load_paths, load_text
from modelplane.spec.meta import API_VERSION, DEFAULT_NAMESPACE, Object, ObjectMeta
from modelplane.spec.namespace import Namespace, NamespaceSpec
from modelplane.spec.nodepool import NodePool, NodePoolSpec
from modelplane.spec.placement import Taint, TaintEffect, Toleration, TolerationOperator
from modelplane.spec.probes import Probe, Probes
from modelplane.spec.quantities import (
    Cpu,
    Duration,
    GpuCount,
    IntOrPercent,
    Memory,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_gpu,
    parse_memory,
    parse_quantity,
)
from modelplane.spec.resources import ResourceList, ResourceRequirements
from modelplane.spec.schema import json_schema
from modelplane.spec.strategy import Canary, CanaryAnalysis, CanaryStep, RollingUpdate, Strategy, StrategyType

__all__ = [
    "API_VERSION",
    "DEFAULT_NAMESPACE",
    "FORMATS_WITHOUT_URI",
    "INT32_MAX",
    "KINDS",
    "MAX_COMPLETIONS",
    "MAX_REPLICAS",
    "NO_SCALE",
    "SCALE_STATUS",
    "TEMPLATE_FIELDS",
    "AnySpecObject",
    "Autoscaling",
    "Batching",
    "Behavior",
    "Canary",
    "CanaryAnalysis",
    "CanaryStep",
    "ConcurrencyMetric",
    "Cpu",
    "CpuMetric",
    "CustomMetric",
    "DisruptionBudget",
    "DocumentRefused",
    "Duration",
    "FieldProblems",
    "GpuCount",
    "IntOrPercent",
    "InvalidSpecError",
    "Job",
    "JobSpec",
    "LoadResult",
    "Loaded",
    "Memory",
    "MemoryMetric",
    "Metric",
    "MetricType",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelFormat",
    "ModelSource",
    "Namespace",
    "NamespaceSpec",
    "NodePool",
    "NodePoolSpec",
    "Object",
    "ObjectMeta",
    "PolicyType",
    "Probe",
    "Probes",
    "QuantityError",
    "ResourceList",
    "ResourceRequirements",
    "RestartPolicy",
    "RollingUpdate",
    "RpsMetric",
    "ScaleDownRules",
    "ScaleStatus",
    "ScaleUpRules",
    "ScalingPolicy",
    "ScalingRules",
    "SelectPolicy",
    "Share",
    "Sized",
    "Sizing",
    "SpecError",
    "SpecObject",
    "Strategy",
    "StrategyType",
    "Taint",
    "TaintEffect",
    "Toleration",
    "TolerationOperator",
    "TrafficTarget",
    "awaited_replicas",
    "default_split",
    "desired_replicas",
    "format_cpu",
    "format_memory",
    "json_schema",
    "load_data",
    "load_path",
    "load_paths",
    "load_text",
    "parse_cpu",
    "parse_duration",
    "parse_gpu",
    "parse_memory",
    "parse_quantity",
    "replica_bounds",
    "scale_refusal",
    "sizing_of",
    "template_hash",
]
