"""The console every `mst` command prints through, set up for a test."""
from __future__ import annotations


def use_console(monkeypatch, **options) -> None:
    """Give the one console every `mst` command prints through the settings of ``Console(**options)``
    (e.g. wide and plain, so that tables do not wrap), undone after the test."""
    from rich.console import Console

    from styletransfer.cli.app import console

    for key, value in vars(Console(**options)).items():
        monkeypatch.setattr(console, key, value, raising=False)
