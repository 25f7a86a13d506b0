"""human_task.answers_forgotten_round: the rounds whose answers the timekeeper has deleted from Prefect

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.add_column(sa.Column("answers_forgotten_round", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.drop_column("answers_forgotten_round")
