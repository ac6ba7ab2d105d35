"""Configuration: the schema, validation, session files, the resolver and the simulation presets
(no torch, no Qt)."""

from .presets import PRESET_NAMES, PRESETS, apply_preset, preset_layer
from .resolve import GUI_SOURCE, ResolvedConfig, SessionFile, resolve_config, resolve_layers
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
from .session import (
    absolutize_paths,
    config_to_dict,
    dumps_session,
    load_session,
    output_path_warnings,
    save_session,
)
from .validation import ConfigIssue, coerce, copy_config, parse_devices, validate

__all__ = [
    "GUI_SOURCE",
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
    "SessionFile",
    "SimulationConfig",
    "TrainingConfig",
    "coerce",
    "config_to_dict",
    "copy_config",
    "dumps_session",
    "field_specs",
    "iter_fields",
    "load_session",
    "output_path_warnings",
    "parse_devices",
    "resolve_config",
    "resolve_layers",
    "save_session",
    "section_classes",
    "validate",
]
