"""Scoring: the runtime, loaded models, batch packing, servables and the one dataplane."""
