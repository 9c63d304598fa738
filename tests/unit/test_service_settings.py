"""Settings: defaults, SERVICE_* parsing, and failing fast with a message naming the variable."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

from service.__main__ import plain_text
from service.settings import (
    Settings,
    SettingsError,
    available_cpus,
    documentation,
    markdown_table,
)


def test_defaults_match_the_documented_contract() -> None:
    settings = Settings.from_env({})
    assert (settings.port, settings.max_records) == (8080, 10_000)
    assert settings.workers == 2 * available_cpus()
    assert settings.models_dir == Path("models")
    assert settings.runtime_threads == 1 and settings.runtime == "litert"
    assert settings.bind == "0.0.0.0:8080"


def test_reads_every_value_from_prefixed_variables() -> None:
    env = {
        "SERVICE_PORT": "9000",
        "SERVICE_WORKERS": "4",
        "SERVICE_MODELS_DIR": "/srv/models",
        "SERVICE_MAX_RECORDS": "500",
        "SERVICE_MAX_BODY_BYTES": "2048",
        "SERVICE_RELOAD_INTERVAL_SECONDS": "0.5",
        "SERVICE_RUNTIME_THREADS": "2",
        "SERVICE_RUNTIME": "TensorFlow",
        "SERVICE_LOG_LEVEL": "WARNING",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(env)
    assert settings.port == 9000 and settings.workers == 4
    assert settings.models_dir == Path("/srv/models")
    assert settings.max_records == 500 and settings.max_body_bytes == 2048
    assert settings.reload_interval_seconds == 0.5 and settings.runtime_threads == 2
    assert settings.runtime == "tensorflow"
    assert settings.log_level == "warning"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SERVICE_PORT", "eighty", "an integer"),
        ("SERVICE_PORT", "0", "1-65535"),
        ("SERVICE_PORT", "70000", "1-65535"),
        ("SERVICE_WORKERS", "0", ">= 1"),
        ("SERVICE_WORKERS", "1.5", "an integer"),
        ("SERVICE_MAX_RECORDS", "-1", ">= 1"),
        ("SERVICE_MAX_BODY_BYTES", "10", ">= 1024"),
        ("SERVICE_RELOAD_INTERVAL_SECONDS", "0", "> 0"),
        ("SERVICE_RELOAD_INTERVAL_SECONDS", "nan", "> 0"),
        ("SERVICE_RELOAD_INTERVAL_SECONDS", "soon", "a number"),
        ("SERVICE_RUNTIME_THREADS", "0", ">= 1"),
        ("SERVICE_RUNTIME", "onnx", "litert | tensorflow"),
        ("SERVICE_LOG_LEVEL", "loud", "debug | info"),
        ("SERVICE_DRIFT_WINDOW_RECORDS", "10", ">= 100"),
        ("SERVICE_SHADOW_SAMPLE", "1.5", "> 0 and <= 1"),
        ("SERVICE_SHADOW_SAMPLE", "0", "> 0 and <= 1"),
        ("SERVICE_SHADOW_MODELS_DIR", "/no/such/repository", "an existing directory"),
        ("SERVICE_MODELS_DIR", " ", "a path"),
    ],
)
def test_a_bad_value_fails_fast_naming_variable_and_expectation(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert variable in str(raised.value)
    assert expected in str(raised.value)


def test_every_setting_is_documented() -> None:
    rows = documentation()
    assert {variable for variable, _, _ in rows} >= {
        "SERVICE_PORT",
        "SERVICE_WORKERS",
        "SERVICE_MODELS_DIR",
        "SERVICE_MAX_RECORDS",
        "SERVICE_MAX_BODY_BYTES",
        "SERVICE_RELOAD_INTERVAL_SECONDS",
        "SERVICE_RUNTIME",
        "SERVICE_RUNTIME_THREADS",
    }
    assert all(description for _, _, description in rows)


def test_the_manual_shows_the_settings_table_the_code_generates() -> None:
    """docs/operations.md cannot fall behind the code (regenerate: python -m service.settings)."""
    manual = (REPO / "docs" / "operations.md").read_text()
    assert markdown_table() in manual


def test_the_command_prints_its_own_help_with_every_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m service")
    assert "](#" not in result.stdout  # the settings' markdown links shown as their text
    assert "gunicorn --help" in result.stdout and "127.0.0.1:8000" not in result.stdout
    for variable, default, meaning in documentation():
        default, meaning = plain_text(default), plain_text(meaning)
        assert variable in result.stdout
        assert meaning.split()[0] in result.stdout
        if default:
            assert f"{variable}  (default: {default})" in result.stdout
    assert len(documentation()) == len(dataclasses.fields(Settings))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", None), ("100000 100000", 1), ("150000 100000", 2), ("50000 100000", 1)],
)
def test_the_cpus_available_follow_a_container_quota(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    affinity = available_cpus(tmp_path / "missing")
    assert available_cpus(tmp_path / "cpu.max") == min(affinity, expected or affinity)


def test_the_worker_default_is_computed_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("service.settings.available_cpus", lambda: 3)
    assert Settings.from_env({}).workers == 6
    assert Settings.from_env({"SERVICE_WORKERS": "5"}).workers == 5


def test_paths_are_paths_and_an_empty_one_is_unset(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"SERVICE_RUNTIME_DIR": str(tmp_path), "SERVICE_DECISIONS_DATABASE": ""}
    )
    assert settings.runtime_dir == tmp_path and settings.decisions_database is None
    assert Settings.from_env({"SERVICE_HOST": " 127.0.0.1 "}).host == "127.0.0.1"
    assert Settings(shadow_models_dir=str(tmp_path)).shadow_models_dir == tmp_path  # type: ignore[arg-type]
    assert settings.drain_marker == tmp_path / "draining"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SERVICE_FRONT", "apache", "expected nginx | none"),
        ("SERVICE_DECISIONS_SYNC", "sometimes", "expected normal | full"),
        ("SERVICE_LOG_LEVEL", "loud", "expected debug | info | warning | error"),
    ],
)
def test_a_choice_is_one_of_its_declared_values(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        Settings.from_env({variable: value})
    assert Settings.from_env({variable: expected.split()[1].upper()})  # any case
