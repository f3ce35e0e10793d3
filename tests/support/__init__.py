"""Helpers shared by tests (importable; fixtures stay in conftest files)."""
