"""Run the API and dashboard under uvicorn."""

from __future__ import annotations

import uvicorn

from monitor.config import load_config
from monitor.settings import Settings


def run_server(settings: Settings, *, host: str, port: int) -> None:
    """Serve the app until interrupted; ConfigError if the config or token setup is wrong."""
    from monitor.api.app import create_app

    app = create_app(settings, load_config(settings.config_path))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        server_header=False,
        proxy_headers=False,
        access_log=settings.log_level == "DEBUG",
    )
