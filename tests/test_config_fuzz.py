"""Property tests: random session files and overrides never raise anything but ConfigError."""

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import field_specs, load_session, resolve_config
from engine.errors import ConfigError

KEYS = sorted(field_specs())
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
)
toml_scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(),
                                                         max_size=2),
)
known_or_random_key = st.one_of(st.sampled_from(KEYS), st.text(max_size=16))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(known_or_random_key, scalars, max_size=6))
def test_random_api_overrides_raise_only_config_error(overrides):
    try:
        resolve_config(overrides=overrides)
    except ConfigError as exc:
        assert exc.issues and all(str(issue) for issue in exc.issues)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), st.text(max_size=10), max_size=6))
def test_random_cli_text_raises_only_config_error(values):
    try:
        resolve_config(cli={k: (v, "cli --set") for k, v in values.items()})
    except ConfigError:
        pass


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["data", "model", "training", "execution", "simulation",
                                   "inference", "schema_version"]), st.text(max_size=8)),
        st.one_of(toml_scalars, st.dictionaries(known_or_random_key.map(
            lambda k: k.split(".")[-1]), toml_scalars, max_size=5)),
        max_size=5,
    )
)
def test_random_session_files_raise_only_config_error(tmp_path, document):
    path = tmp_path / "fuzz.toml"
    path.write_text(tomli_w.dumps(document))
    try:
        load_session(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_as_session_raise_only_config_error(tmp_path, blob):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(blob)
    try:
        load_session(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
