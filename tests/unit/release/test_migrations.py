"""The destructive-migration guard on sample Alembic scripts, and the pending report."""

from __future__ import annotations

import pytest

from gangway.errors import PendingUnreadable
from gangway.release.migrations import (
    Finding,
    PendingMigration,
    destructive_findings,
    find_destructive,
    parse_pending,
)

HEADER = '''"""a migration"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

'''


def script(upgrade: str, downgrade: str = "    pass\n") -> str:
    return (
        HEADER
        + "def upgrade() -> None:\n"
        + upgrade
        + "\n\ndef downgrade() -> None:\n"
        + (downgrade)
    )


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ('    op.drop_table("notes")\n', 9, "drop_table('notes') drops table"),
        ('    op.drop_column("notes", "body")\n', 9, "drop_column('notes', 'body') drops column"),
        ('    op.rename_table("notes", "memos")\n', 9,
         "rename_table('notes', 'memos') renames table"),
        ('    op.alter_column("notes", "body", new_column_name="text")\n', 9,
         "alter_column('notes', 'body', new_column_name='text') renames column"),
        ('    with op.batch_alter_table("notes") as batch:\n'
         '        batch.drop_column("body")\n', 10, "drop_column('body') drops column"),
        ('    op.execute("ALTER TABLE notes DROP COLUMN body")\n', 9,
         "SQL 'DROP COLUMN' drops or renames"),
        ('    op.execute(sa.text("drop table notes"))\n', 9, "SQL 'drop table' drops or renames"),
        ('    op.execute("ALTER TABLE notes RENAME COLUMN body TO text")\n', 9,
         "SQL 'ALTER TABLE notes RENAME' drops or renames"),
    ],
)  # fmt: skip
def test_drops_and_renames_in_upgrade_are_found_with_their_line(
    body: str, line: int, what: str
) -> None:
    assert find_destructive("0002_x.py", script(body)) == [Finding("0002_x.py", line, what)]


@pytest.mark.parametrize(
    "body",
    [
        '    op.add_column("notes", sa.Column("tags", sa.Text(), nullable=True))\n',
        '    op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))\n',
        '    op.alter_column("notes", "body", nullable=True)\n',
        '    op.drop_index("ix_notes_created_at", table_name="notes")\n',
        "    op.execute(\"UPDATE notes SET body = '' WHERE body IS NULL\")\n",
        '    op.execute("CREATE INDEX ix ON notes (title)")\n',
    ],
)
def test_expanding_migrations_pass(body: str) -> None:
    assert find_destructive("0002_x.py", script(body)) == []


def test_drops_in_downgrade_are_not_findings() -> None:
    text = script(
        '    op.create_table("tags", sa.Column("id", sa.Integer()))\n',
        '    op.drop_table("tags")\n    op.drop_column("notes", "tags")\n',
    )
    assert find_destructive("0002_x.py", text) == []


def test_every_finding_of_a_script_is_listed_in_line_order() -> None:
    text = script('    op.drop_column("notes", "a")\n    op.rename_table("notes", "memos")\n')
    assert [f.line for f in find_destructive("x.py", text)] == [9, 10]


def test_a_script_that_does_not_parse_is_reported_not_passed() -> None:
    [finding] = find_destructive("0003_bad.py", "def upgrade(:\n")
    assert finding.path == "0003_bad.py"
    assert "cannot be parsed" in finding.what


def test_a_sql_script_is_read_whole() -> None:
    text = "CREATE TABLE t (id int);\nALTER TABLE notes\n  DROP COLUMN body;\n"
    assert find_destructive("0002.sql", text) == [
        Finding("0002.sql", 3, "SQL 'DROP COLUMN' drops or renames")
    ]


def test_findings_of_pending_migrations_name_the_path_else_the_revision() -> None:
    pending = [
        PendingMigration("0002", path="0002_a.py", source=script('    op.drop_table("a")\n')),
        PendingMigration("0003", source=script('    op.drop_table("b")\n')),
    ]
    assert [f.describe() for f in destructive_findings(pending)] == [
        "0002_a.py:9: drop_table('a') drops table",
        "0003:9: drop_table('b') drops table",
    ]


def test_pending_report_is_the_last_json_line_after_any_logging() -> None:
    output = (
        '{"level": "info", "msg": "connecting"}\nnot json\n'
        '{"current": ["0001"], "head": ["0002"], "pending": [{"revision": "0002", '
        '"description": "add tags", "path": "0002_tags.py", "source": "def upgrade(): ..."}]}\n'
    )
    report = parse_pending(output)
    assert report.current == ("0001",)
    assert report.head == ("0002",)
    assert report.pending == (
        PendingMigration("0002", "add tags", "0002_tags.py", "def upgrade(): ..."),
    )


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("", "no JSON object"),
        ("nothing to see\n", "no JSON object"),
        ('{"current": []}\n', 'a "pending" list'),
        ('{"pending": [{"rev": "1"}]}\n', '"revision" string'),
        ("{not json\n", "not JSON"),
    ],
)
def test_unreadable_pending_output_is_an_error(output: str, message: str) -> None:
    with pytest.raises(PendingUnreadable, match=message):
        parse_pending(output)
