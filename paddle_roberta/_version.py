"""The package version, in one place: read by the package, its output markers and setup.py (without importing)."""

__version__ = "0.1.0"
