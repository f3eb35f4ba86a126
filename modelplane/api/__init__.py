"""The control plane's REST API (kube-apiserver) and the process that runs the control plane:
store + API + controllers + scheduler + runtime, on 127.0.0.1:8090. See docs/control-plane.md."""
