"""HTTP API, dashboard and metrics (`monitor serve`)."""

from monitor.api.app import create_app

__all__ = ["create_app"]
