"""The model contract: what a published model version is, shared by training and serving.

Training writes metadata.json through it and the service reads it through it; nothing else
parses metadata.json. It imports neither TensorFlow nor Flask, so both sides can afford it.
"""
