"""The service's own endpoints beside the wire protocols: health, metrics, decision records and
model cards."""
