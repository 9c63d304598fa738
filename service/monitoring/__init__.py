"""Watching the models in production: drift against training, and the decision mix expected."""
