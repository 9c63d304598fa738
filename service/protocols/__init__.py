"""Wire protocols over the dataplane: TensorFlow Serving REST (/v1) and Open Inference V2 (/v2)."""
