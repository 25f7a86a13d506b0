"""hjemtilos: the application around the pure ``casework`` domain: settings, database, mail, CLI."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["PROJECT_ROOT"]
