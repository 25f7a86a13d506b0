"""Prefect flows: thin orchestration over tasks and the programme's domain code."""
