"""Prefect tasks: one side effect each; they take and return ids and frozen values."""

__all__ = ["case_tasks", "family_tasks", "runtime", "timekeeper_tasks"]  # the public modules
