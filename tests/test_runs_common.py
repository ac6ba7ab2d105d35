"""Workflows take their configuration resolved: a ResolvedConfig as it is, a bare SessionConfig
from the API once through the resolver."""

from __future__ import annotations

import dataclasses

import pytest

from engine.config import ResolvedConfig, SessionConfig, resolve_config
from engine.errors import ConfigError
from engine.runs.common import API_SOURCE, as_resolved


def test_a_session_config_is_resolved_once_with_api_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = SessionConfig()
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path="scan.npz"))
    resolved = as_resolved(cfg, "train")
    assert resolved.config.data.path == str(tmp_path / "scan.npz")
    assert resolved.config.training.output_dir == str(tmp_path / "ptycho-run")
    assert set(resolved.sources.values()) == {API_SOURCE}


def test_a_bad_session_config_is_refused():
    cfg = SessionConfig()
    bad = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, max_epochs=0))
    with pytest.raises(ConfigError, match="training.max_epochs"):
        as_resolved(bad, "train")
    with pytest.raises(TypeError, match="train: expected a SessionConfig"):
        as_resolved({"training.max_epochs": 3}, "train")  # type: ignore[arg-type]


def test_a_resolved_config_is_taken_as_it_is(tmp_path):
    resolved = resolve_config(overrides={"training.output_dir": str(tmp_path / "run"),
                                         "inference.output": str(tmp_path / "r.h5")})
    assert as_resolved(resolved, "train") is resolved
    # Not validated again: whatever the resolver produced is what runs.
    odd = ResolvedConfig(dataclasses.replace(
        resolved.config, training=dataclasses.replace(resolved.config.training, max_epochs=0)),
        resolved.sources)
    assert as_resolved(odd, "train") is odd


def test_the_resolver_makes_default_paths_absolute_against_the_session_folder(tmp_path,
                                                                              monkeypatch):
    """Issue 21: a session in one folder run from another writes next to the session."""
    monkeypatch.chdir(tmp_path)
    resolved = resolve_config(overrides={"training.max_epochs": 3})
    assert resolved.config.training.output_dir == str(tmp_path / "ptycho-run")
    assert resolved.sources["training.output_dir"] == "default"
    assert as_resolved(resolved, "train") is resolved
    folder = tmp_path / "sessions"
    folder.mkdir()
    (folder / "s.toml").write_text("[training]\nmax_epochs = 2\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = resolve_config(session=folder / "s.toml").config
    assert cfg.training.output_dir == str(folder / "ptycho-run")
    assert cfg.inference.output == str(folder / "reconstruction.h5")
    assert cfg.reconstruct.output_dir == str(folder / "reconstruction")
