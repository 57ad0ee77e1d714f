"""Celery app, beat schedule and thin tasks around monitor.pipeline."""
