"""The underwriting decision policy: a versioned, sealed document and the rules that apply it.

Pure Python and NumPy, like the contract: the service decides with it, training reports the
straight-through rate it yields, a batch job can decide a whole book. Compliance staff change the
policy (thresholds, knock-outs, reason wording) and publish a new version; no model is retrained.
"""
