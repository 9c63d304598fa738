"""The gRPC wire: the Open Inference Protocol's service over the same dataplane as REST."""
