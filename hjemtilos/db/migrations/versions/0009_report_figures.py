"""the programme reports: a screening rejection's reason (a code) and the tally of referrals retention deleted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hjemtilos.db.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral_case") as batch:
        batch.add_column(sa.Column("rejection_reason", sa.String(length=40), nullable=True))
    op.create_index(op.f("ix_referral_case_created_at"), "referral_case", ["created_at"])
    op.create_table(
        "referral_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("rejection_reason", sa.String(length=40), nullable=True),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("track", sa.String(length=20), nullable=False),
        sa.Column("placement_kind", sa.String(length=30), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("referrer_unit", sa.String(length=200), nullable=True),
        sa.Column("local_area", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_tally")),
    )
    op.create_index(op.f("ix_referral_tally_month"), "referral_tally", ["month"])


def downgrade() -> None:
    op.drop_table("referral_tally")
    op.drop_index(op.f("ix_referral_case_created_at"), table_name="referral_case")
    with op.batch_alter_table("referral_case") as batch:
        batch.drop_column("rejection_reason")
