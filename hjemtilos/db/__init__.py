"""The case database: SQLAlchemy 2.0 typed models, engine factory and Alembic migrations."""

__all__ = ["engine", "migrate", "models", "scratch", "types"]  # the public modules
