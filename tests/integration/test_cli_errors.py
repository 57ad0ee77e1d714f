"""The CLI's read commands on a database that is missing, empty or asked the wrong thing:
one clear line on stderr, the documented exit code, and nothing written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app

REPO = Path(__file__).resolve().parents[2]


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "MONITOR_CONFIG": str(REPO / "config" / "monitor.toml"),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_DATABASE_URL": "",
    }


def test_reading_a_database_that_does_not_exist_creates_no_file(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    database = tmp_path / "var" / "monitor.db"
    for command in (["alerts"], ["history", "love-letter"], ["feeds"], ["alerts", "show", "1"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 1, (command, result.output)
        assert "does not exist: run `monitor db upgrade`" in result.output
        assert not database.exists(), command


def test_an_unknown_topic_or_status_is_an_argument_error(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    # Configured but not stored yet: nothing has run, so the message says what stores it.
    for command in (["history", "love-letter"], ["alerts", "--topic", "love-letter"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code == 2, (command, result.output)
        assert "unknown topic 'love-letter' (no topic is stored yet" in result.output
    status = runner.invoke(app, ["alerts", "--status", "closed"], env=env)
    assert status.exit_code == 2 and "'closed' is not one of" in status.output
    listed = runner.invoke(app, ["alerts", "--status", "open"], env=env)
    assert listed.exit_code == 0 and "no alerts" in listed.output
    topics = runner.invoke(app, ["topics"], env=env)
    assert topics.exit_code == 0 and "no topic is stored yet" in topics.output
