"""The warm worker: Prefect's process worker, whose flow-run command is a small client (``client.py``) that asks
a pre-imported zygote (``zygote.py``) to fork the run, so that a step costs a fork instead of a new interpreter
and a fresh import of Prefect, SQLAlchemy and the flows. ``supervisor.py`` runs the worker and the zygote side by
side and restarts the zygote; ``prefect_fork.py`` is the one module that leans on Prefect's internals."""
