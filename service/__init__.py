"""The underwriting prediction service (Flask + gunicorn)."""
