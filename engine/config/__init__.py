"""Configuration: the schema, validation, session files and the resolver (no torch, no Qt)."""

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
from .validation import ConfigIssue, copy_config, parse_devices, validate

__all__ = [
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
