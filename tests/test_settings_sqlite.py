"""SQLite databases run in WAL mode with full syncs; writers still start with BEGIN IMMEDIATE."""

import pytest
from django.conf import settings
from django.db.backends.sqlite3.base import DatabaseWrapper

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite settings only",
)


@pytest.fixture
def file_database(tmp_path, django_db_blocker):
    """A connection to a SQLite file with the console's own database settings."""
    wrapper = DatabaseWrapper(
        {**settings.DATABASES["default"], "NAME": str(tmp_path / "console.sqlite3")},
        alias="sqlite_settings_check",
    )
    with django_db_blocker.unblock():
        wrapper.ensure_connection()
        yield wrapper
        wrapper.close()


def pragma(wrapper, name: str):
    with wrapper.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_a_sqlite_file_is_opened_in_wal_mode_with_full_syncs(file_database):
    assert pragma(file_database, "journal_mode") == "wal"
    # FULL (2): a committed step ("sent", or its answer) survives a power cut.
    assert pragma(file_database, "synchronous") == 2


def test_writers_still_take_the_write_lock_up_front(file_database):
    assert file_database.transaction_mode == "IMMEDIATE"
    with file_database.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
    file_database.set_autocommit(False)
    try:
        with file_database.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")
        # BEGIN IMMEDIATE holds the reserved lock: a second writer cannot start.
        other = DatabaseWrapper(
            {**file_database.settings_dict, "OPTIONS": {**file_database.settings_dict["OPTIONS"]}},
            alias="sqlite_settings_other",
        )
        other.settings_dict["OPTIONS"]["timeout"] = 0.1
        try:
            with pytest.raises(Exception, match="locked"):
                other.set_autocommit(False)
                with other.cursor() as cursor:
                    cursor.execute("INSERT INTO t VALUES (2)")
        finally:
            other.close()
        file_database.commit()
    finally:
        file_database.set_autocommit(True)
    assert pragma(file_database, "journal_mode") == "wal"
