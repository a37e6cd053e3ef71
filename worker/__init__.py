"""Celery workers and the extraction engine they call."""
