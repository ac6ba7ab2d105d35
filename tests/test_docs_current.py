"""Generated documentation and resources must match the code."""

from pathlib import Path

from engine.config import SessionConfig, absolutize_paths, dumps_session, load_session
from engine.config.docs import render_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_reference_is_current():
    checked_in = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert checked_in == render_markdown(), (
        "docs/configuration.md is stale: run "
        "`ptycho-engine config docs --out docs/configuration.md`"
    )


def test_default_session_resource_is_current():
    path = ROOT / "resources" / "default_session.toml"
    assert path.read_text(encoding="utf-8") == dumps_session(SessionConfig(), folder=path.parent)
    assert load_session(path) == absolutize_paths(SessionConfig(), path.parent)


def test_cli_reference_is_current():
    from engine.cli.reference import render_cli_markdown

    checked_in = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert checked_in == render_cli_markdown(), (
        "docs/cli.md is stale: run `ptycho-engine config docs --cli --out docs/cli.md`"
    )
