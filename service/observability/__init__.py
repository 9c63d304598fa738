"""What operators see: Prometheus metrics, request counting and the JSON access log."""
