"""docker-compose.yml, Dockerfile, .dockerignore and config/env.example, checked offline.

No Docker engine is needed: Debian's docker-compose 1.29 validates and renders the file
(`docker-compose config`), its bundled Compose-specification JSON schema validates the
parsed YAML, and plain assertions pin down the service layout the deployment relies on.

Needs the Debian package `docker-compose` (`apt-get install -y docker-compose`; add
--no-install-recommends to leave out docker.io); a missing binary or schema fails.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitor.settings import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "config" / "env.example"

# Shipped by Debian's docker-compose package (`dpkg -L docker-compose`).
COMPOSE_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
INSTALL_HINT = "apt-get install -y docker-compose"

APP_SERVICES = ("migrate", "worker", "detector", "beat", "api")
BACKING_SERVICES = ("redis", "postgres")

EXPECTED_COMMANDS = {
    "migrate": ["monitor", "db", "upgrade"],
    "worker": [
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--queues=polling,storing",
        "--loglevel=INFO",
        "--concurrency=2",
        "--without-mingle",
        "--without-gossip",
    ],
    "detector": [
        "celery",
        "-A",
        "workers.app",
        "worker",
        "--queues=detection",
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
    ],
    "beat": [
        "celery",
        "-A",
        "workers.app",
        "beat",
        "--loglevel=INFO",
        "--schedule",
        "/tmp/celerybeat-schedule",
    ],
    "api": ["monitor", "serve", "--host", "0.0.0.0", "--port", "8000"],
}


def docker_compose_binary() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(f"docker-compose not found on PATH: install it with `{INSTALL_HINT}`")
    return path


def run_compose(
    *args: str,
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
    compose_file: Path = COMPOSE_FILE,
    env_lines: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run docker-compose on one of the repository's files, blind to the caller's .env and
    shell.

    `env_lines` (default: nothing) stand in for a developer's `.env`, and the variables the
    files substitute are removed from the environment, so defaults are what gets tested.
    """
    env_file = tmp_path / "test.env"
    env_file.write_text(env_lines)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MONITOR_", "COMPOSE_")) and k != "POSTGRES_PASSWORD"
    }
    env.update(extra_env or {})
    return subprocess.run(
        [
            docker_compose_binary(),
            "-f",
            str(compose_file),
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def render(tmp_path: Path, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run_compose("config", tmp_path=tmp_path, extra_env=extra_env)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    assert isinstance(doc, dict), "docker-compose.yml is not a YAML mapping"
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft201909Validator:
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(
            f"Compose JSON schema missing at {COMPOSE_SCHEMA}; it ships in Debian's "
            f"docker-compose package: `{INSTALL_HINT}`"
        )
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    # The file declares draft 2019-09 (as "...draft/2019-09/schema#", a spelling jsonschema
    # does not look up by itself); docker-compose 1.29 itself validates with draft 4.
    assert "2019-09" in schema.get("$schema", ""), schema.get("$schema")
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def schema_errors(validator: jsonschema.Draft201909Validator, doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]


# --- docker-compose itself -------------------------------------------------------------


def test_docker_compose_config_quiet_exits_zero(tmp_path: Path) -> None:
    result = run_compose("config", "-q", tmp_path=tmp_path)
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


def test_rendered_config_resolves_password_default(tmp_path: Path) -> None:
    rendered = render(tmp_path)
    for name in APP_SERVICES:
        url = rendered["services"][name]["environment"]["MONITOR_DATABASE_URL"]
        assert "monitor:monitor@postgres" in url, f"{name}: {url}"
        assert rendered["services"][name]["environment"]["MONITOR_LOG_LEVEL"] == "INFO"
    assert rendered["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "monitor"


def test_rendered_config_uses_password_from_environment(tmp_path: Path) -> None:
    rendered = render(tmp_path, {"POSTGRES_PASSWORD": "s3cret", "MONITOR_LOG_LEVEL": "DEBUG"})
    for name in APP_SERVICES:
        environment = rendered["services"][name]["environment"]
        assert "monitor:s3cret@postgres:5432/monitor" in environment["MONITOR_DATABASE_URL"]
        assert environment["MONITOR_LOG_LEVEL"] == "DEBUG"
    assert rendered["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"


# --- Compose specification schema -------------------------------------------------------


def test_file_matches_compose_schema(
    compose: dict[str, Any], schema_validator: jsonschema.Draft201909Validator
) -> None:
    errors = schema_errors(schema_validator, compose)
    assert not errors, "docker-compose.yml violates the Compose schema:\n" + "\n".join(errors)


def test_rendered_config_matches_compose_schema(
    tmp_path: Path, schema_validator: jsonschema.Draft201909Validator
) -> None:
    errors = schema_errors(schema_validator, render(tmp_path))
    assert not errors, "rendered config violates the Compose schema:\n" + "\n".join(errors)


def test_schema_rejects_a_broken_file(
    compose: dict[str, Any], schema_validator: jsonschema.Draft201909Validator
) -> None:
    """The schema check is not vacuous: a bad condition and an unknown key are caught."""
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["depends_on"] = {"redis": {"condition": "service_ready"}}
    broken["services"]["beat"]["replica"] = 1
    errors = schema_errors(schema_validator, broken)
    assert any(e.startswith("services/worker") for e in errors), errors
    assert any(e.startswith("services/beat") for e in errors), errors


def test_no_version_key(compose: dict[str, Any]) -> None:
    # The Compose specification dropped `version:`; docker-compose 1.29 does not need it.
    assert "version" not in compose


# --- layout -------------------------------------------------------------------------------


def test_services_exist(services: dict[str, Any]) -> None:
    missing = set(BACKING_SERVICES + APP_SERVICES) - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_command(services: dict[str, Any], name: str) -> None:
    assert services[name]["command"] == EXPECTED_COMMANDS[name]


@pytest.mark.parametrize("name", ["worker", "detector", "beat", "api"])
def test_worker_and_beat_wait_for_dependencies(services: dict[str, Any], name: str) -> None:
    depends_on = services[name].get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping with conditions"
    assert depends_on.get("redis") == {"condition": "service_healthy"}
    assert depends_on.get("postgres") == {"condition": "service_healthy"}
    assert depends_on.get("migrate") == {"condition": "service_completed_successfully"}


def test_migrate_is_one_shot_after_postgres(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert migrate.get("restart") == "no"  # the string: YAML `no` would be False


@pytest.mark.parametrize("name", BACKING_SERVICES)
def test_backing_service_has_healthcheck(services: dict[str, Any], name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck and healthcheck.get("test"), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)


def test_healthcheck_commands(services: dict[str, Any]) -> None:
    redis_test = " ".join(services["redis"]["healthcheck"]["test"])
    assert "redis-cli ping" in redis_test
    postgres_test = services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in postgres_test
    assert postgres_test[postgres_test.index("-U") + 1] == "monitor"
    assert postgres_test[postgres_test.index("-d") + 1] == "monitor"


def test_redis_keeps_queued_messages(services: dict[str, Any]) -> None:
    command = services["redis"]["command"]
    command = command.split() if isinstance(command, str) else command
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"
    assert "redisdata:/data" in services["redis"]["volumes"]


def test_postgres_settings(services: dict[str, Any], compose: dict[str, Any]) -> None:
    environment = services["postgres"]["environment"]
    assert environment["POSTGRES_USER"] == "monitor"
    assert environment["POSTGRES_DB"] == "monitor"
    assert environment["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-monitor}"
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert set(compose["volumes"]) >= {"pgdata", "redisdata"}


@pytest.mark.parametrize("name", BACKING_SERVICES)
def test_pulled_images_are_pinned(services: dict[str, Any], name: str) -> None:
    image = services[name].get("image", "")
    name_part, sep, tag = image.rpartition(":")
    assert sep and name_part and "/" not in tag, f"{name}: image {image!r} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: tag {tag!r} is not pinned"


def test_every_image_without_build_is_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        tag = service.get("image", "").rpartition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {service.get('image')}"


@pytest.mark.parametrize("name", BACKING_SERVICES)
def test_backing_ports_not_published(services: dict[str, Any], name: str) -> None:
    assert "ports" not in services[name], f"{name} publishes ports to the host"


def test_worker_scales(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "scale" not in worker
    assert "replicas" not in worker.get("deploy", {})


def consumed_queues(service: dict[str, Any]) -> set[str]:
    options = [arg for arg in service.get("command") or [] if arg.startswith("--queues=")]
    return set(options[0].removeprefix("--queues=").split(",")) if options else set()


def test_every_queue_has_a_worker_service(services: dict[str, Any]) -> None:
    from workers.app import DETECTION_QUEUE, QUEUES, TASK_ROUTES

    consumed = set().union(*(consumed_queues(service) for service in services.values()))
    assert consumed == set(QUEUES)
    assert {route["queue"] for route in TASK_ROUTES.values()} == set(QUEUES)
    # Detection has its own service: the scalable pollers never hold it up.
    assert DETECTION_QUEUE not in consumed_queues(services["worker"])
    assert consumed_queues(services["detector"]) == {DETECTION_QUEUE}


def test_beat_runs_once(services: dict[str, Any]) -> None:
    beat = services["beat"]
    assert "container_name" not in beat
    assert beat.get("deploy", {}).get("replicas") == 1


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_shares_image_and_config(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service.get("build") == ".", f"{name} is not built from the repository"
    assert service.get("image") == services["worker"]["image"]
    assert "./config:/app/config:ro" in service.get("volumes", [])
    environment = service["environment"]
    assert environment["MONITOR_CONFIG"] == "/app/config/monitor.toml"
    assert environment["MONITOR_LOG_LEVEL"] == "${MONITOR_LOG_LEVEL:-INFO}"
    assert environment["MONITOR_DATABASE_URL"] == (
        "postgresql+psycopg://monitor:${POSTGRES_PASSWORD:-monitor}@postgres:5432/monitor"
    )
    assert environment["MONITOR_BROKER_URL"] == "redis://redis:6379/0"


def test_api_is_published_on_loopback_only_with_a_healthcheck(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert api.get("restart") == "unless-stopped"
    # the token reaches the api service only, from the environment, never a literal
    assert api["environment"]["MONITOR_API_TOKEN"] == "${MONITOR_API_TOKEN:-}"
    for name in ("migrate", "worker", "beat"):
        assert "MONITOR_API_TOKEN" not in services[name]["environment"], name


def test_api_token_comes_from_the_environment(tmp_path: Path) -> None:
    rendered = render(tmp_path, {"MONITOR_API_TOKEN": "t0ken"})
    assert rendered["services"]["api"]["environment"]["MONITOR_API_TOKEN"] == "t0ken"
    assert "MONITOR_API_TOKEN" not in rendered["services"]["worker"]["environment"]


def test_app_config_comes_from_an_extension_field(compose: dict[str, Any]) -> None:
    assert "x-app" in compose, "the shared app settings live in the `x-app` extension field"
    assert compose["x-app"]["environment"] == compose["services"]["worker"]["environment"]


# --- Dockerfile, .dockerignore, env.example ---------------------------------------------


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    base = next(line for line in instructions if line.startswith("FROM "))
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim(-\w+)?", base), base
    assert "WORKDIR /app" in instructions
    assert "USER monitor" in instructions
    assert instructions[-1] == 'CMD ["monitor", "--help"]'
    assert "pip install --no-cache-dir ." in text
    assert "PYTHONUNBUFFERED=1" in text
    for source in ("pyproject.toml", "README.md", "monitor/", "workers/", "config/"):
        assert any(
            line.startswith("COPY ") and source in line.split()[1:-1] for line in instructions
        ), f"Dockerfile does not copy {source}"
    # the non-root user is the last USER, so every service runs unprivileged
    users = [line for line in instructions if line.startswith("USER ")]
    assert users[-1] == "USER monitor"


def test_dockerignore() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", "var", ".git", "tests", "**/__pycache__", "*.db", ".env"):
        assert required in patterns, f".dockerignore lacks {required}"
    for needed in ("pyproject.toml", "README.md", "monitor", "workers", "config"):
        assert needed not in patterns and f"{needed}/" not in patterns


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    assert all(not line or line.startswith("#") for line in lines), (
        "env.example must set nothing: every line is a comment or blank"
    )
    names = [name for name, _, _ in ENVIRONMENT] + ["POSTGRES_PASSWORD"]
    for name in names:
        settings = [line for line in lines if re.match(rf"#\s*{name}=", line)]
        assert len(settings) == 1, f"env.example: expected one `#{name}=` line"
    defaults = {name: default for name, default, _ in ENVIRONMENT if default}
    for name, default in defaults.items():
        assert f"#{name}={default}" in lines, f"env.example: {name} default is not {default!r}"


# --- docker-compose.worker-host.yml: more workers on another host ----------------------

WORKER_HOST_FILE = ROOT / "docker-compose.worker-host.yml"


def run_worker_host_compose(tmp_path: Path, env_lines: str) -> subprocess.CompletedProcess[str]:
    return run_compose(
        "config", tmp_path=tmp_path, compose_file=WORKER_HOST_FILE, env_lines=env_lines
    )


def test_worker_host_file_renders_with_the_main_host_urls(
    tmp_path: Path, services: dict[str, Any]
) -> None:
    result = run_worker_host_compose(
        tmp_path,
        "MONITOR_DATABASE_URL=postgresql+psycopg://monitor:pw@10.0.0.5:5432/monitor\n"
        "MONITOR_BROKER_URL=redis://10.0.0.5:6379/0\n",
    )
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {"worker"}
    worker = rendered["services"]["worker"]
    assert worker["environment"]["MONITOR_BROKER_URL"] == "redis://10.0.0.5:6379/0"
    assert "@10.0.0.5:5432/monitor" in worker["environment"]["MONITOR_DATABASE_URL"]
    # The same command and image as the main file's worker: one worker, two deployments.
    assert worker["command"] == services["worker"]["command"]
    assert worker["image"] == services["worker"]["image"]


def test_worker_host_file_refuses_to_render_without_the_urls(tmp_path: Path) -> None:
    result = run_worker_host_compose(tmp_path, "MONITOR_BROKER_URL=redis://10.0.0.5:6379/0\n")
    assert result.returncode != 0
    assert "MONITOR_DATABASE_URL" in result.stderr
