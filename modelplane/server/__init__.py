"""The model server each replica runs: Open Inference Protocol v2 + KServe v1 over HTTP, dynamic
batching, loaders for each model format, Prometheus metrics, graceful shutdown. See docs/server.md."""
