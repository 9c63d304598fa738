"""Decisions: the policy applied to a scored batch, reasons from the model's explain signature,
and the durable record of every decision (SQLite by default, PostgreSQL when configured)."""
