"""Configuration: the schema, validation, session files, the resolver and the simulation presets
(no torch, no Qt)."""

from .presets import PRESET_NAMES, PRESETS, apply_preset, preset_layer
from .resolve import ResolvedConfig, resolve_config
from .schema import (
    SCHEMA_VERSION,
    DataConfig,
    ExecutionConfig,
    FieldMeta,
    FieldSpec,
    InferenceConfig,
    ModelConfig,
    RefinementConfig,
    SessionConfig,
    SimulationConfig,
    TrainingConfig,
    field_specs,
    iter_fields,
    section_classes,
)
from .session import absolutize_paths, config_to_dict, dumps_session, load_session, save_session
from .validation import ConfigIssue, coerce, copy_config, parse_devices, validate

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "apply_preset",
    "coerce",
    "preset_layer",
    "SCHEMA_VERSION",
    "absolutize_paths",
    "ConfigIssue",
    "DataConfig",
    "ExecutionConfig",
    "FieldMeta",
    "FieldSpec",
    "InferenceConfig",
    "ModelConfig",
    "RefinementConfig",
    "ResolvedConfig",
    "SessionConfig",
    "SimulationConfig",
    "TrainingConfig",
    "config_to_dict",
    "copy_config",
    "dumps_session",
    "field_specs",
    "iter_fields",
    "load_session",
    "parse_devices",
    "resolve_config",
    "save_session",
    "section_classes",
    "validate",
]
