"""Adapters to the world outside the case database: Prefect (``prefect``)."""

__all__: list[str] = []
