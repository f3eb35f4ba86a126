"""`modelplane loadtest`: offer a planned load to deployments through the router, and report it.

Pure pieces: profiles.py (rate over time), scheduling.py (intended send times, rng passed in),
recording.py (per-second rows and a bounded latency histogram), bodies.py (the OIP request from model
metadata), report.py (the JSON document). Effects: running.py (the sender, on one event loop with
modelplane.net's ConnectionPool) and plotting.py (the PNG). The CLI command is modelplane/cli/loadtesting.py.
This package imports nothing of modelplane but net and spec (an import-linter contract).
"""
