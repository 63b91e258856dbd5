"""Swift temporary URL cache shared by every conductor of a database.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "temp_url_cache",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cache_key", sa.String(64), nullable=False, unique=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("account", sa.String(256), nullable=False),
        sa.Column("container", sa.String(256), nullable=False),
        sa.Column("object_name", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("lifetime", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("temp_url_cache_expires_at_idx", "temp_url_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("temp_url_cache_expires_at_idx", table_name="temp_url_cache")
    op.drop_table("temp_url_cache")
