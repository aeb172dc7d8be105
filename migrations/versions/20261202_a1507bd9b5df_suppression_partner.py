"""suppression entries name the partner whose contact they came from

Revision ID: a1507bd9b5df
Revises: 547448414ba2
Create Date: 2026-12-02 07:58:44.030090

Existing entries are attributed where that is certain: an unsubscribe names its partner in
`detail` ("partner 3, delivery 12"); other non-manual entries take the partner whose contact
list holds the address when exactly one does. The rest stay without a partner and are withheld
from HQ (services.suppression).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1507bd9b5df"
down_revision: str | None = "547448414ba2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMED = re.compile(r"^partner (\d+)\b")


def upgrade() -> None:
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_suppression_partner_id"), ["partner_id"], unique=False)
    _attribute(op.get_bind())


def _attribute(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT id, brand_id, email, detail FROM suppression WHERE reason <> 'manual'")
    ).all()
    for row_id, brand_id, email, detail in rows:
        named = _NAMED.match(detail or "")
        if named:
            partner_id: int | None = int(named.group(1))
        else:
            found = conn.execute(
                sa.text(
                    "SELECT DISTINCT partner_id FROM contact "
                    "WHERE brand_id = :brand AND lower(email) = :email"
                ),
                {"brand": brand_id, "email": email},
            ).all()
            partner_id = found[0][0] if len(found) == 1 else None
        if partner_id is not None:
            conn.execute(
                sa.text("UPDATE suppression SET partner_id = :partner WHERE id = :id"),
                {"partner": partner_id, "id": row_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppression_partner_id"))
        batch_op.drop_column("partner_id")
