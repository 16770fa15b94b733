"""The two reads every signed-in request makes, its session and its user, each as one SQL
statement.

Django's ORM builds and compiles a query anew on every call: for these two primary-key reads
that is about 0.6 ms of CPU each on the 2-core machine, against about 0.15 ms for the statement
itself, on pages that take 5 to 20 ms (docs/performance.md). What they read and when they find
nothing is unchanged (tests/test_session_reads.py).
"""

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


def _select(model, columns: str, where: str) -> str:
    connection = connections[router.db_for_read(model)]
    table = connection.ops.quote_name(model._meta.db_table)
    return f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608 - names from the model


class SessionStore(DatabaseSessionStore):
    """Django's database sessions (SESSION_ENGINE "console.request_reads"): a session is
    read only while it has not expired, and a key without a live row reads as no session."""

    def _get_session_from_db(self):
        model = self.model
        key = self.session_key
        if not key:  # none, or refused by Django as malformed
            self._session_key = None
            return None
        connection = connections[router.db_for_read(model)]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        sql = _select(model, "session_data", "session_key = %s AND expire_date > %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=key, session_data=row[0])


def user_by_id(user_id):
    """The user with this primary key, or None."""
    model = get_user_model()
    column = connections[router.db_for_read(model)].ops.quote_name(model._meta.pk.column)
    found = list(model.objects.raw(_select(model, "*", f"{column} = %s"), [user_id]))
    return found[0] if found else None
