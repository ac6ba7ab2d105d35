"""The schema: metadata completeness, TOML round trips, validation, precedence."""

import dataclasses
import math
import tomllib

import pytest

from engine.config import (
    SessionConfig,
    absolutize_paths,
    dumps_session,
    field_specs,
    iter_fields,
    load_session,
    resolve_config,
    save_session,
    validate,
)
from engine.config.session import MIGRATIONS, config_from_flat, migrate
from engine.errors import ConfigError


def test_every_field_has_help_and_a_default_of_its_type():
    for spec in iter_fields():
        assert spec.meta.help.strip(), spec.key
        assert isinstance(spec.default, spec.types), spec.key
        if spec.meta.choices:
            assert spec.default in spec.meta.choices, spec.key


def test_every_numeric_field_declares_min_max_and_step():
    for spec in iter_fields():
        if set(spec.types) & {int, float} and bool not in spec.types and str not in spec.types:
            assert spec.meta.min is not None and spec.meta.max is not None, spec.key
            assert spec.meta.step is not None and spec.meta.step > 0, spec.key
            assert spec.meta.min <= spec.default <= spec.meta.max, spec.key


def test_execution_covers_lightning_runtime_knobs():
    names = {s.name for s in iter_fields() if s.section == "execution"}
    for knob in ["accelerator", "devices", "num_nodes", "strategy", "precision", "deterministic",
                 "seed", "num_workers", "pin_memory", "persistent_workers", "gradient_clip_val",
                 "gradient_clip_algorithm", "accumulate_grad_batches", "checkpointing",
                 "checkpoint_monitor", "checkpoint_mode", "checkpoint_save_top_k",
                 "checkpoint_every_n_epochs", "early_stopping_patience", "logger",
                 "log_every_n_steps", "progress_bar", "inference_batch_size",
                 "matmul_precision", "compile"]:
        assert knob in names


def _non_default_value(spec):
    """A valid value different from the default, for every field type."""
    meta = spec.meta
    if meta.choices:
        return next(c for c in meta.choices if c != spec.default)
    if spec.types == (bool,):
        return not spec.default
    if spec.types == (int,):
        return int(meta.max) if spec.default != meta.max else int(meta.min)
    if spec.types == (float,):
        return 1e-4 if meta.min <= 1e-4 <= meta.max and spec.default != 1e-4 else meta.max
    if spec.meta.path:
        return "/data/scan 1/file.npz"
    return "2"


def test_every_field_round_trips_through_toml(tmp_path):
    specs = field_specs()
    for key, spec in specs.items():
        value = _non_default_value(spec)
        config = config_from_flat({key: value})
        text = dumps_session(config, folder=tmp_path)
        back = config_from_flat({f"{s}.{n}": v for s, t in tomllib.loads(text).items()
                                 if isinstance(t, dict) for n, v in t.items()})
        assert getattr(getattr(back, spec.section), spec.name) == value, key


def test_save_and_load_session_exact(tmp_path):
    config = SessionConfig()
    config.training.learning_rate = 1e-4
    config.simulation.photons_per_pattern = 12345.678
    config.execution.devices = "0,1"
    config.execution.strategy = "ddp"
    data = tmp_path / "scan.npz"
    config.data.path = str(data)
    config = absolutize_paths(config, tmp_path)  # defaults such as output_dir are relative
    path = save_session(config, tmp_path / "s.toml")
    text = path.read_text()
    assert 'path = "scan.npz"' in text  # written relative to the session folder
    assert load_session(path) == config


def test_relative_paths_resolve_against_session_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.toml").write_text('[data]\npath = "scan.npz"\n')
    monkeypatch.chdir(tmp_path)
    config = load_session("sub/s.toml")
    assert config.data.path == str(tmp_path / "sub" / "scan.npz")


def test_unknown_keys_are_errors_with_suggestions(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[training]\nmax_epoch = 3\nlearning_rate = 'fast'\n[exec]\nseed = 1\n")
    with pytest.raises(ConfigError) as info:
        load_session(path)
    message = str(info.value)
    assert str(path) in message
    assert "training.max_epoch" in message and "did you mean 'max_epochs'" in message
    assert "training.learning_rate = 'fast': expected a number" in message
    assert "did you mean 'execution'" in message
    assert len(info.value.issues) == 3


def test_all_problems_reported_at_once():
    config = SessionConfig()
    config.execution.devices = 0
    config.training.batch_size = 0
    config.model.gridsize = 9
    issues = validate(config)
    keys = {i.key for i in issues}
    assert {"training.batch_size", "model.gridsize"} <= keys


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"execution.accelerator": "cpu", "execution.precision": "16-mixed"},
         "execution.precision"),
        ({"execution.strategy": "ddp", "execution.devices": 1}, "execution.strategy"),
        ({"model.gridsize": 3, "model.n_neighbours": 7}, "model.n_neighbours"),
        ({"execution.persistent_workers": True}, "execution.persistent_workers"),
        ({"execution.devices": "zero"}, "execution.devices"),
        ({"training.val_fraction": 0.0}, "execution.checkpoint_monitor"),
    ],
)
def test_cross_field_rules(overrides, key):
    with pytest.raises(ConfigError) as info:
        resolve_config(overrides=overrides)
    assert key in [i.key for i in info.value.issues]


def test_precedence_and_sources(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[training]\nmax_epochs = 5\nbatch_size = 8\nlearning_rate = 0.01\n")
    resolved = resolve_config(
        session=path,
        cli={"training.batch_size": ("4", "cli --set training.batch_size"),
             "training.learning_rate": ("1e-4", "cli --set training.learning_rate")},
        overrides={"training": {"learning_rate": 3e-4}},
    )
    c, src = resolved.config, resolved.sources
    assert c.training.max_epochs == 5 and src["training.max_epochs"] == f"session {path}"
    assert c.training.batch_size == 4 and src["training.batch_size"].startswith("cli")
    assert c.training.learning_rate == 3e-4 and src["training.learning_rate"] == "api override"
    assert c.model.N == 0 and src["model.N"] == "default"  # 0: the data's pattern size


def test_auto_accelerator_stays_auto(tmp_path):
    config = SessionConfig()
    assert config.execution.accelerator == "auto"
    path = save_session(config, tmp_path / "s.toml")
    assert 'accelerator = "auto"' in path.read_text()


def test_schema_version_migration_hook():
    migrations = {1: lambda d: {**d, "training": {"max_epochs": d["train"]["epochs"]}}}
    out = migrate({"schema_version": 1, "train": {"epochs": 7}}, "x", migrations, current=2)
    assert out == {"train": {"epochs": 7}, "training": {"max_epochs": 7}}
    with pytest.raises(ConfigError, match="newer release"):
        migrate({"schema_version": 99}, "x", MIGRATIONS)


def test_invalid_session_is_not_written(tmp_path):
    config = SessionConfig()
    config.training.batch_size = -1
    target = tmp_path / "s.toml"
    target.write_text("# precious\n")
    with pytest.raises(ConfigError):
        save_session(config, target)
    assert target.read_text() == "# precious\n"


def test_syntax_error_names_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[training\nmax_epochs = 3\n")
    with pytest.raises(ConfigError, match="TOML syntax error") as info:
        load_session(path)
    assert str(path) in str(info.value)


def test_no_nan_in_defaults():
    for spec in iter_fields():
        if isinstance(spec.default, float):
            assert math.isfinite(spec.default)


def test_dataclasses_have_one_default_each():
    # Defaults live only in the schema: constructing twice gives equal, independent objects.
    a, b = SessionConfig(), SessionConfig()
    assert a == b and a.training is not b.training
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
