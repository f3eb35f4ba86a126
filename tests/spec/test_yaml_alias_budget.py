"""The YAML alias bound holds for a whole file (or API body), not only per document: many documents
each just under the bound were accepted one by one — an 84 kB body of 300 such documents stored
47 MB and held the API's apply for minutes."""

from __future__ import annotations

from modelplane.spec import DocumentRefused, load_text
from modelplane.spec.loading import MAX_ALIAS_EXPANSION

# aliases add 9,889 values to this document: just under the bound on its own
NEAR_THE_BOUND = """\
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: m{i}}}
spec:
  model:
    format: simulated
    params:
      a: &a [x,x,x,x,x,x,x,x,x]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
"""

SHARED_DEFAULTS = """\
---
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: d{i}, labels: &labels {{team: search, tier: web}}}}
spec:
  model: {{format: simulated}}
  nodeSelector: *labels
  probes:
    readiness: &probe {{periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3}}
    liveness: {{<<: *probe, periodSeconds: 5}}
"""


def test_one_document_near_the_bound_loads() -> None:
    result = load_text(NEAR_THE_BOUND.format(i=0))
    assert result.ok, result.errors


def test_documents_adding_more_than_the_bound_together_are_refused_from_the_one_over_it() -> None:
    result = load_text("".join(NEAR_THE_BOUND.format(i=i) for i in range(30)), file="many.yaml")
    assert [loaded.obj.metadata.name for loaded in result.objects] == ["m0"]
    assert len(result.errors) == 29
    assert all(isinstance(error, DocumentRefused) for error in result.errors)
    first = result.errors[0]
    assert str(first).startswith("many.yaml:14: ModelDeployment/m1: ")
    assert f"{MAX_ALIAS_EXPANSION:,}" in first.message
    assert "earlier documents" in first.message


def test_many_documents_sharing_defaults_by_anchors_load() -> None:
    # aliases add 12 values to each: 1,000 documents add more than the bound, far less than they write
    result = load_text("".join(SHARED_DEFAULTS.format(i=i) for i in range(1000)))
    assert result.ok, result.errors[:1]
    assert len(result.objects) == 1000
