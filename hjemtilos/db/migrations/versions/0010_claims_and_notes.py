"""the coordinator's day: who works on a step (claimed by, since when, follow-up date) and case notes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hjemtilos.db.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.add_column(sa.Column("claimed_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claim_shown_round", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("claim_shown_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("follow_up_on", sa.Date(), nullable=True))
        batch.create_foreign_key(op.f("fk_human_task_claimed_by_id_user_account"), "user_account",
                                 ["claimed_by_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("written_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["referral_case.id"], name=op.f("fk_case_note_case_id_referral_case"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    op.create_index(op.f("ix_case_note_case_id"), "case_note", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_note_case_id"), table_name="case_note")
    op.drop_table("case_note")
    with op.batch_alter_table("human_task") as batch:
        batch.drop_constraint(op.f("fk_human_task_claimed_by_id_user_account"), type_="foreignkey")
        batch.drop_column("follow_up_on")
        batch.drop_column("claim_shown_at")
        batch.drop_column("claim_shown_round")
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by_id")
