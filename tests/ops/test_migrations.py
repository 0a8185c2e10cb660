"""Zero-downtime migrations: django-migration-linter flags operations that break the release
still running during a rolling update (dropping or renaming a column, NOT NULL without a
database default, ...) in every migration newer than the baseline (infra/migrations-baseline.txt,
the migrations that existed when the check came in). Rules: docs/operations.md, Upgrades."""

from __future__ import annotations

import contextlib
import io

import pytest
from django_migration_linter import MigrationLinter
from django_migration_linter.sql_analyser.analyser import analyse_sql_statements
from django_migration_linter.sql_analyser.postgresql import PostgresqlAnalyser

from harness.processes import ROOT

BASELINE = ROOT / "infra" / "migrations-baseline.txt"
OURS = ("backend.", "board.")
# Migrations that cannot be rolled out with the old release running, each with what to do
# instead (docs/operations.md, Upgrades). Adding one needs a reason an operator can act on.
NOT_ROLLING = {
    # The visit checklist becomes an encrypted text column: the old release cannot read it.
    # Stop the old release's visit reads (or take a short downtime) while it runs.
    ("visits", "0002_encrypt_health_text"),
    # A visit task's reason and a case's description become encrypted (issue 11): the old
    # release would show ciphertext. Stop the old release's visit and case reads while it runs.
    ("visits", "0005_encrypt_free_text"),
    ("servicedesk", "0005_encrypt_free_text"),
}


def baseline() -> set[tuple[str, str]]:
    lines = BASELINE.read_text().splitlines()
    return {tuple(line.split()) for line in lines if line and not line.startswith("#")}  # type: ignore[misc]


@pytest.mark.django_db(transaction=True)  # sqlmigrate of a non-atomic migration
def test_new_migrations_are_safe_for_a_rolling_update() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        linter = MigrationLinter(no_cache=True, analyser_string="postgresql")
        ours = {
            key: m
            for key, m in linter.migration_loader.disk_migrations.items()
            if m.__module__.startswith(OURS)
        }
        assert baseline() <= set(ours), "the baseline names a migration that does not exist"
        for key in sorted(set(ours) - baseline() - NOT_ROLLING):
            linter.lint_migration(ours[key])
    assert not linter.has_errors, out.getvalue()


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "alerts_alert" DROP COLUMN "battery" CASCADE;',
        'ALTER TABLE "alerts_alert" RENAME COLUMN "battery" TO "charge";',
        'ALTER TABLE "alerts_alert" ADD COLUMN "x" integer NOT NULL;',
    ],
)
def test_the_linter_flags_what_breaks_the_running_release(sql: str) -> None:
    errors, _, _ = analyse_sql_statements(PostgresqlAnalyser, [sql])
    assert errors


def test_an_added_nullable_column_passes() -> None:
    errors, _, _ = analyse_sql_statements(
        PostgresqlAnalyser, ['ALTER TABLE "alerts_alert" ADD COLUMN "x" integer NULL;']
    )
    assert not errors
