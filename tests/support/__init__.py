"""Plain helpers the test modules import (``from support.scores import ...``); the fixtures live in
tests/conftest.py. On the path through pytest's ``pythonpath`` setting (pyproject.toml)."""
