"""Prefect tasks: one side effect each; they take and return ids and frozen values."""
