"""Benchmarks: the service against the bare-Flask framework floor, driven by wrk."""
