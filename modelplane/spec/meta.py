"""What every object shares: the model base class, `metadata`, and the rules for names and labels.

Invariants: every spec model is frozen, rejects unknown fields and non-finite floats, and reads
camelCase YAML keys into snake_case attributes (`maxReplicas` → `max_replicas`; the snake_case
spelling is accepted too).
Names and namespaces are DNS-1123 labels, as Kubernetes requires for Services and Namespaces, so the same
objects deploy to a cluster unchanged.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

from modelplane.spec.errors import FieldProblems

API_VERSION: Final = "modelplane.dev/v1alpha1"
DEFAULT_NAMESPACE = "default"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


class SpecModel(BaseModel):
    """Base of every spec model: frozen, strict about unknown fields, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        use_attribute_docstrings=True,
        allow_inf_nan=False,  # `.inf` and `.nan` are YAML floats no field means; JSON cannot carry them
    )


def suggest_dns_label(name: str) -> str:
    """The nearest valid DNS-1123 label to `name` (`My_Model` → `my-model`)."""
    lowered = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    return re.sub(r"-{2,}", "-", lowered).strip("-")[:63].rstrip("-") or "my-object"


def check_dns_label(name: str) -> str:
    """`name` if it is a DNS-1123 label; otherwise a ValueError that says how to fix it."""
    if len(name) <= 63 and _DNS_LABEL.fullmatch(name):
        return name
    problem = "is longer than 63 characters" if len(name) > 63 else "is not a valid name"
    raise ValueError(
        f"{name!r} {problem}: use at most 63 lowercase letters, digits and '-', starting and ending "
        f"with a letter or digit, e.g. {suggest_dns_label(name)!r}."
    )


def _check_label_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(
            f"label key {key!r}: the prefix {prefix!r} must be a DNS subdomain such as 'example.com'."
        )
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(
            f"label key {key!r}: the name part must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit, e.g. 'team' or 'example.com/team'."
        )


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    """`labels` if every key and value is a valid Kubernetes label; else a ValueError naming the bad one."""
    for key, value in labels.items():
        _check_label_key(key)
        if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
            raise ValueError(
                f"label {key}={value!r}: values must be empty or at most 63 letters, digits, '-', '_' "
                "or '.', starting and ending with a letter or digit."
            )
    return labels


DnsLabel = Annotated[
    str,
    AfterValidator(check_dns_label),
    WithJsonSchema({"type": "string", "maxLength": 63, "pattern": f"^{_DNS_LABEL.pattern}$"}),
]
"""A DNS-1123 label: at most 63 of [a-z0-9-], starting and ending with a letter or digit."""

Labels = Annotated[dict[str, str], AfterValidator(check_labels)]
"""Kubernetes labels: `[prefix/]name` keys, short values."""


class ObjectMeta(SpecModel):
    """Identity of an object: its name, namespace, labels and annotations."""

    name: DnsLabel
    """Name of the object, unique per kind and namespace; a DNS-1123 label such as `sentiment`."""
    namespace: DnsLabel = DEFAULT_NAMESPACE
    """Namespace of the object; `default` when omitted. Namespaces and NodePools have none."""
    labels: Labels = Field(default_factory=dict)
    """Labels to select and group objects by, e.g. `{team: nlp}`."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Free-form notes for tools and people; not used to select objects."""


class Object(SpecModel):
    """Base of the four kinds: `apiVersion`, `kind`, `metadata` (each kind adds its `spec`)."""

    api_version: Literal["modelplane.dev/v1alpha1"] = API_VERSION
    """Always `modelplane.dev/v1alpha1`."""
    kind: str
    metadata: ObjectMeta

    cluster_scoped: ClassVar[bool] = False
    """Cluster-wide kinds (Namespace, NodePool) have no namespace."""

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if self.cluster_scoped and "namespace" in self.metadata.model_fields_set:
            raise FieldProblems.one(
                ("metadata", "namespace"),
                f"a {self.kind} is cluster-wide and has no namespace; remove metadata.namespace.",
            )
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        """(kind, namespace, name) — unique among all objects; namespace is '' for cluster-wide kinds."""
        namespace = "" if self.cluster_scoped else self.metadata.namespace
        return (self.kind, namespace, self.metadata.name)

    @property
    def display_name(self) -> str:
        """`Kind/name`, or `Kind/namespace/name` outside the default namespace."""
        if self.cluster_scoped or self.metadata.namespace == DEFAULT_NAMESPACE:
            return f"{self.kind}/{self.metadata.name}"
        return f"{self.kind}/{self.metadata.namespace}/{self.metadata.name}"
