"""The OpenAPI document of every route, built from the served models, and the /docs page."""
