"""The bare flow of benchmark 5: Prefect's own cost of one process-per-run execution, nothing of ours."""

from prefect import flow


@flow(name="bare", persist_result=False)
def bare() -> None:
    return None
