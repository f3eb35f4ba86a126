"""The autoscaler's decisions, pure: metric readings, replica states and the spec in; the replica count,
conditions and events out (STYLE.md rule 3). It imports nothing of modelplane but `spec`.

- `calculating`: one metric's proposal, as HPA v2's replica calculator.
- `hpa`: from proposals to the count to set, as HPA v2's controller (tolerance, stabilization,
  behavior policies, conditions).
- `kpa`: the fast path for request metrics, as Knative's autoscaler (stable and panic windows).
"""
