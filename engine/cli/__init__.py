"""The ``ptycho-engine`` command line (generated from the schema, see ``common``).

The entry point is :func:`engine.cli.main.main`. Nothing is imported here, so that
``python -m engine.cli.main`` (also how Lightning's ddp launcher re-runs the CLI in every
process) does not find ``engine.cli.main`` imported before it runs (a RuntimeWarning).
"""
