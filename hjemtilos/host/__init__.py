"""The host: what `hjemtilos up` runs and supervises (the system, Prefect's processes, the front door, the
embedded PostgreSQL, who runs what as root) and what it prints."""
