"""Request validation built from an artifact's feature declaration (marshmallow, strict types)."""
