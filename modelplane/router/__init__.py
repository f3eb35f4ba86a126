"""The router: the ingress that sends each inference request to a ready replica.

It routes the Open Inference Protocol v2 and KServe v1 paths (with `/ns/{namespace}` for namespaces
other than default), splits traffic between versions by weight, picks the least loaded of two random
ready replicas, queues at per-replica concurrency limits, holds requests while a deployment has no
ready replica, retries a request whose replica failed, and exports per-deployment metrics for the
autoscaler. The endpoints table comes from the control plane (long poll) or a JSON file. See
docs/router.md.
"""
