"""Settings from NUVOM_* variables and .env, with clear errors."""

import pytest

from nuvom.config import ConfigError, load_dotenv, reload_settings, settings_from


def test_environment_beats_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "# comment\nexport NUVOM_BATCH_SIZE=7\nNUVOM_QUEUE_BACKEND='Memory'\nNUVOM_LOG_LEVEL=debug # inline\n"
    )
    monkeypatch.setenv("NUVOM_BATCH_SIZE", "9")
    settings = reload_settings()
    assert settings.batch_size == 9
    assert settings.queue_backend == "memory"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("NUVOM_BATCH_SIZE", "abc", "NUVOM_BATCH_SIZE='abc' is not an integer"),
        ("NUVOM_JOB_TIMEOUT_SECS", "soon", "NUVOM_JOB_TIMEOUT_SECS='soon' is not a number"),
        ("NUVOM_MAX_WORKERS", "0", "must be greater than 0"),
        ("NUVOM_TIMEOUT_POLICY", "explode", "is not one of: fail, retry, ignore"),
    ],
)
def test_a_bad_value_names_the_variable(variable, value, message):
    with pytest.raises(ConfigError, match=message):
        settings_from({variable: value})


def test_optional_numbers_accept_none():
    assert settings_from({"NUVOM_JOB_TIMEOUT_SECS": "none"}).job_timeout_secs is None
    assert settings_from({"NUVOM_JOB_TIMEOUT_SECS": "2.5"}).job_timeout_secs == 2.5


def test_a_malformed_dotenv_line_says_where(tmp_path):
    (tmp_path / ".env").write_text("NUVOM_BATCH_SIZE=3\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=VALUE"):
        load_dotenv(tmp_path / ".env")
