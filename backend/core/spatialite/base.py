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
from typing import Any

from django.contrib.gis.db.backends.spatialite import base
from django.db import OperationalError

WRITER = threading.Lock()


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

    def _start_transaction_under_autocommit(self) -> None:
        if not WRITER.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5))):
            raise OperationalError("database is locked (no turn to write within the timeout)")
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
