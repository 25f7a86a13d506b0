"""typed records: consent receipts and visits as rows, the future agreement on the match

Consent was kept in the consent task's JSON under display labels ("forælder 1 (BBU)"); it becomes one
``consent_receipt`` row per holder and form. Visits the coordinator records become ``case_visit`` rows. The future
agreement, stored as the Danish choice in the task's outcome, becomes ``match.continuation`` (and the outcome the
enum's value).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 02:00:00
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import hjemtilos.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTINUATION = {"fortsætter ugentligt": "weekly", "fortsætter sjældnere": "less-often",
                "stopper efter året": "stops", "ikke afklaret": "undecided"}
LABEL = re.compile(r"^forælder (\d+) \((BBU|Red Barnet)\)$")


def upgrade() -> None:
    op.create_table(
        "consent_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", hjemtilos.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["referral_case.id"], name=op.f("fk_consent_receipt_case_id_referral_case"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"], name=op.f("fk_consent_receipt_party_id_party"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_receipt")),
        sa.UniqueConstraint("party_id", "form", name=op.f("uq_consent_receipt_party_id")),
    )
    op.create_index(op.f("ix_consent_receipt_case_id"), "consent_receipt", ["case_id"], unique=False)
    op.create_table(
        "case_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("assessment", sa.String(length=20), nullable=True),
        sa.Column("recorded_at", hjemtilos.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["referral_case.id"], name=op.f("fk_case_visit_case_id_referral_case"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_visit")),
        sa.UniqueConstraint("case_id", "kind", "scope", name=op.f("uq_case_visit_case_id")),
    )
    op.create_index(op.f("ix_case_visit_case_id"), "case_visit", ["case_id"], unique=False)
    with op.batch_alter_table("match") as batch:
        batch.add_column(sa.Column("continuation", sa.String(length=40), nullable=True))
    _move_consent()
    _move_future_agreements()


def _move_consent() -> None:
    connection = op.get_bind()
    tasks = connection.execute(sa.text("SELECT case_id, data, decided_by, created_at FROM human_task "
                                       "WHERE key = 'approval-consent' AND case_id IS NOT NULL")).all()
    for case_id, data, decided_by, created_at in tasks:
        received = ((data if isinstance(data, dict) else _json(data)) or {}).get("received", {})
        holders = [row[0] for row in connection.execute(sa.text(
            "SELECT id FROM party WHERE case_id = :case AND role = 'custody_holder' ORDER BY id"), {"case": case_id})]
        for label, day in received.items():
            found = LABEL.match(label)
            if found is None or int(found.group(1)) > len(holders):
                continue
            connection.execute(sa.text(
                "INSERT INTO consent_receipt (case_id, party_id, form, received_on, recorded_at, recorded_by) "
                "VALUES (:case, :party, :form, :day, :at, :by)"),
                {"case": case_id, "party": holders[int(found.group(1)) - 1],
                 "form": "bbu" if found.group(2) == "BBU" else "redbarnet", "day": date.fromisoformat(day[:10]),
                 "at": created_at or datetime.now(UTC), "by": decided_by or "migration"})


def _move_future_agreements() -> None:
    connection = op.get_bind()
    for label, value in CONTINUATION.items():
        rows = connection.execute(sa.text("SELECT case_id, key FROM human_task WHERE key LIKE "
                                          "'approval-future-agreement-%' AND outcome = :label"), {"label": label}).all()
        for case_id, key in rows:
            attempt = int(key.rsplit("-", 1)[1])
            connection.execute(sa.text("UPDATE match SET continuation = :value WHERE case_id = :case AND "
                                       "attempt = :attempt"), {"value": value, "case": case_id, "attempt": attempt})
        connection.execute(sa.text("UPDATE human_task SET outcome = :value WHERE key LIKE "
                                   "'approval-future-agreement-%' AND outcome = :label"), {"value": value, "label": label})


def _json(raw: object) -> dict[str, dict[str, str]] | None:
    import json

    return json.loads(raw) if isinstance(raw, str) else None


def downgrade() -> None:
    """Drops the consent receipts and visits: receipts recorded before 0002 are still in the consent task's JSON."""
    connection = op.get_bind()
    for label, value in CONTINUATION.items():
        connection.execute(sa.text("UPDATE human_task SET outcome = :label WHERE key LIKE "
                                   "'approval-future-agreement-%' AND outcome = :value"), {"value": value, "label": label})
    with op.batch_alter_table("match") as batch:
        batch.drop_column("continuation")
    op.drop_index(op.f("ix_case_visit_case_id"), table_name="case_visit")
    op.drop_table("case_visit")
    op.drop_index(op.f("ix_consent_receipt_case_id"), table_name="consent_receipt")
    op.drop_table("consent_receipt")
