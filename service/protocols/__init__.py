"""Wire protocols over the dataplane: TF Serving REST, Open Inference V2, health, metrics."""
