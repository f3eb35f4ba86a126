"""modelplane: Kubernetes for AI workloads.

Declare models in YAML; modelplane serves them behind one endpoint, restarts what crashes, scales with
the load and rolls out new versions. See DESIGN.md for the parts and how they fit.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
