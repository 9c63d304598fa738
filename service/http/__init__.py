"""HTTP plumbing for every layer: the error envelope, JSON in and out, request ids, API keys."""
