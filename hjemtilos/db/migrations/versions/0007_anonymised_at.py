"""referral_case.anonymised_at: when retention anonymised a closed case

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hjemtilos.db.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral_case") as batch:
        batch.add_column(sa.Column("anonymised_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_case") as batch:
        batch.drop_column("anonymised_at")
