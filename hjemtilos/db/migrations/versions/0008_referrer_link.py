"""referrer_link: one-time links to the referral form for verified caseworkers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hjemtilos.db.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referrer_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["referral_case.id"], name=op.f("fk_referrer_link_case_id_referral_case"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrer_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_referrer_link_token_hash")),
    )
    op.create_index(op.f("ix_referrer_link_email"), "referrer_link", ["email"])


def downgrade() -> None:
    op.drop_table("referrer_link")
