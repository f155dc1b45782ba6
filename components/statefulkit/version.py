"""The package's version: its one source (pyproject.toml reads it; backups are tagged with it)."""

__version__ = "0.2.0"
