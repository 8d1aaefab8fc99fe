"""One configuration, read the same way everywhere; wrong keys are refused with a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from workbench.config import load_settings
from workbench.errors import ConfigError


def test_default_store_is_sqlite_in_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    assert load_settings().effective_db_url == f"sqlite:///{tmp_path / 'workbench.db'}"


def test_config_file_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config_dir = Path(__import__("os").environ["JUPYTER_CONFIG_DIR"])
    (config_dir / "jupyter_workbench_config.py").write_text(
        "c.Workbench.db_url = 'postgresql://wb@localhost/wb'\nc.Workbench.instructors = ['ada']\n"
    )
    try:
        monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
        settings = load_settings()
        assert settings.effective_db_url == "postgresql://wb@localhost/wb"
        assert settings.instructors == ["ada"]
        monkeypatch.setenv("WORKBENCH_DB_URL", "sqlite:///x.db")
        assert load_settings().effective_db_url == "sqlite:///x.db"
    finally:
        (config_dir / "jupyter_workbench_config.py").unlink()


def test_unknown_key_is_refused_with_a_suggestion() -> None:
    config = Config({"Workbench": {"db_ulr": "sqlite://"}})
    with pytest.raises(ConfigError, match=r"unknown setting 'Workbench.db_ulr' — did you mean 'Workbench.db_url'\?"):
        load_settings(config)
