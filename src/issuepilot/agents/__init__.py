"""Planner and executor backends (see `base.py` for the protocols)."""
