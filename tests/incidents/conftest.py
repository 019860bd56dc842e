"""The `response_setup` and `activate` fixtures live in tests/conftest.py (shared)."""
