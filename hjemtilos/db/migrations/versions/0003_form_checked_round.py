"""human_task.form_checked_round: the round whose Resume form the timekeeper saw stored in Prefect

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.add_column(sa.Column("form_checked_round", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.drop_column("form_checked_round")
