# Image of the fan-reaction monitor: the `monitor` CLI and the Celery app (workers.app).
# docker-compose.yml runs it as migrate, worker and beat; the default command prints help.
FROM python:3.11.10-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_CONFIG=/app/config/monitor.toml \
    MONITOR_DATA_DIR=/app/var

RUN groupadd --system monitor \
    && useradd --system --gid monitor --home-dir /app --no-create-home --shell /usr/sbin/nologin monitor

WORKDIR /app

# Everything `pip install .` reads (README.md is the package's readme), then install and
# drop the build leftovers setuptools writes into the source tree.
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
COPY workers/ workers/
COPY config/ config/
RUN pip install --no-cache-dir . \
    && rm -rf build *.egg-info \
    && mkdir -p /app/var \
    && chown monitor:monitor /app/var

USER monitor

CMD ["monitor", "--help"]
