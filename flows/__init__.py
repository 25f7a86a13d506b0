"""Prefect flows: thin orchestration over tasks and the programme's domain code."""

__all__ = ["approvals", "deployments", "end_case", "forms", "referral_case", "suspension", "timekeeper",
           "volunteer_approval"]  # the public modules
