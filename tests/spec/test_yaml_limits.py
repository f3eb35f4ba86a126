"""YAML aliases: a billion-laughs document is refused fast, before any object is built; modest anchors
(`<<: *defaults`, a shared label block) still load."""

from __future__ import annotations

import time
from pathlib import Path

from modelplane.spec import DocumentRefused, load_path, load_text

LAUGHS = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: bomb}
spec:
  model:
    format: simulated
    params:
      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_is_refused_fast_with_a_message(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(LAUGHS)
    started = time.monotonic()
    result = load_path(spec)
    elapsed = time.monotonic() - started
    assert elapsed < 0.5, elapsed
    assert not result.objects
    (error,) = result.errors
    assert isinstance(error, DocumentRefused)
    assert str(error).startswith(f"{spec}:1: ModelDeployment/bomb: YAML aliases expand this document")
    assert "aliases" in error.message and "10000" in error.message.replace(",", "")
    assert "write the repeated values out" in error.message


def test_an_alias_cycle_is_refused_the_same_way() -> None:
    text = "apiVersion: modelplane.dev/v1alpha1\nkind: Namespace\nmetadata: &m {name: a, labels: *m}\n"
    (error,) = load_text(text).errors
    assert isinstance(error, DocumentRefused) and "refers to itself" in error.message


def test_modest_anchors_and_merge_keys_still_load() -> None:
    text = """\
apiVersion: modelplane.dev/v1alpha1
kind: ModelDeployment
metadata: {name: a, labels: &labels {team: nlp, tier: web}}
spec:
  model: {format: simulated, params: {tags: &tags [x, y, z]}}
  probes:
    readiness: &probe {periodSeconds: 2, failureThreshold: 5}
    liveness: {<<: *probe, periodSeconds: 3}
  nodeSelector: *labels
"""
    result = load_text(text)
    assert result.ok, result.errors
    (loaded,) = result.objects
    assert loaded.obj.spec.probes.liveness is not None
    assert loaded.obj.spec.probes.liveness.failure_threshold == 5
    assert loaded.obj.spec.node_selector == {"team": "nlp", "tier": "web"}
