"""The embedded default's database engine: Django's SpatiaLite backend whose write transactions
take turns within the process.

SQLite has one writer. A writer that finds the lock taken polls for it until its busy timeout,
and under load a poller can lose to newer writers again and again until the timeout ends (a
503 for a press that merely waited its turn). Here the write transactions of this process
(BEGIN IMMEDIATE: every `transaction.atomic`) first queue on a lock, woken in turn by the one
before; the busy timeout still covers writers in other processes (`manage.py` commands).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from django.contrib.gis.db.backends.spatialite import base
from django.db import OperationalError
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

WRITER = threading.Lock()
_READS = ("SELECT", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK")


class _TurnTakingCursor(SQLiteCursorWrapper):
    """A write outside a transaction (an autocommit `Model.save()`, an audit row) is a
    transaction of its own: it waits for its turn like `atomic` does, or it could poll past
    its busy timeout behind this process's queue of writers."""

    wrapper: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        with self.wrapper.turn_for(query):
            return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        with self.wrapper.turn_for(query):
            return super().executemany(query, param_list)


class DatabaseWrapper(base.DatabaseWrapper):
    # (django-stubs does not declare the private methods overridden here: type: ignore[misc])
    holds_writer = False

    def get_new_connection(self, conn_params: Any) -> Any:
        """Connect, then make the file readable by its owner only (600): it holds personal
        data, and SQLite creates it with the umask's mode (644). SQLite gives the -wal and
        -shm files the database file's mode; those that exist already are narrowed too."""
        connection = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if name and name != ":memory:" and not name.startswith("file:"):
            for path in (name, f"{name}-wal", f"{name}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(path, 0o600)
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=_TurnTakingCursor)
        cursor.wrapper = self
        return cursor

    def _take_turn(self) -> None:
        if not WRITER.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5))):
            raise OperationalError("database is locked (no turn to write within the timeout)")

    @contextlib.contextmanager
    def turn_for(self, query: str) -> Iterator[None]:
        """The writer's turn for one statement in autocommit mode; nothing inside a
        transaction (its BEGIN took the turn) and nothing for a read."""
        if (
            self.holds_writer
            or not self.get_autocommit()
            or query.lstrip()[:9].upper().startswith(_READS)
        ):
            yield
            return
        self._take_turn()
        try:
            yield
        finally:
            WRITER.release()

    def _start_transaction_under_autocommit(self) -> None:
        self._take_turn()
        self.holds_writer = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self.holds_writer:
            self.holds_writer = False
            WRITER.release()

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._release_writer()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._release_writer()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._release_writer()
