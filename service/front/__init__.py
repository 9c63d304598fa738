"""The front: nginx in front of gunicorn, started, supervised and stopped by `python -m service`.

nginx reads whole requests (bounded by timeouts and sizes) and answers malformed ones itself in
the service's envelope; gunicorn's sync workers, on a Unix socket only nginx reaches, are never
held by a slow or broken client. Imported by the launcher: no Flask, no app.
"""
