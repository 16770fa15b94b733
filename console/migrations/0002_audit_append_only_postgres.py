"""PostgreSQL only: refuse UPDATE, DELETE and TRUNCATE of audit entries in the database itself,
and a trigram index for the Audit page's free-text filter (when pg_trgm can be installed).

Row triggers do not fire on TRUNCATE, so a statement-level trigger guards it too.
One exception: Django's test runner empties every table with TRUNCATE between tests, so in a
database whose name starts with `test_` TRUNCATE is let through, unless the session sets
`console.audit_truncate_guard = 'on'` (the tests do, to prove the guard works).
"""

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

CREATE_GUARD = """
CREATE OR REPLACE FUNCTION console_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND left(current_database(), 5) = 'test_'
       AND coalesce(current_setting('console.audit_truncate_guard', true), '') <> 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit entries cannot be changed or deleted: the audit log is append-only'
        USING ERRCODE = 'restrict_violation', DETAIL = TG_OP || ' on ' || TG_TABLE_NAME;
END;
$fn$;

CREATE TRIGGER console_auditentry_append_only
    BEFORE UPDATE OR DELETE ON console_auditentry
    FOR EACH ROW EXECUTE FUNCTION console_audit_refuse_change();

CREATE TRIGGER console_auditentry_no_truncate
    BEFORE TRUNCATE ON console_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION console_audit_refuse_change();
"""

DROP_GUARD = """
DROP TRIGGER IF EXISTS console_auditentry_no_truncate ON console_auditentry;
DROP TRIGGER IF EXISTS console_auditentry_append_only ON console_auditentry;
DROP FUNCTION IF EXISTS console_audit_refuse_change();
"""

CREATE_SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS audit_search_trgm_idx "
    "ON console_auditentry USING gin (search_text gin_trgm_ops)"
)


def _postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def add_guard(apps, schema_editor):
    if _postgres(schema_editor):
        schema_editor.execute(CREATE_GUARD, params=None)


def remove_guard(apps, schema_editor):
    if _postgres(schema_editor):
        schema_editor.execute(DROP_GUARD, params=None)


def add_search_index(apps, schema_editor):
    if not _postgres(schema_editor):
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    except DatabaseError as exc:
        # Free text then works by a sequential scan; the README says so.
        log.warning("pg_trgm is not available (%s); free-text audit search is unindexed", exc)
        return
    schema_editor.execute(CREATE_SEARCH_INDEX, params=None)


def remove_search_index(apps, schema_editor):
    if _postgres(schema_editor):
        schema_editor.execute("DROP INDEX IF EXISTS audit_search_trgm_idx", params=None)


class Migration(migrations.Migration):
    dependencies = [("console", "0001_audit_entry")]

    operations = [
        migrations.RunPython(add_guard, remove_guard, elidable=False),
        migrations.RunPython(add_search_index, remove_search_index, elidable=False),
    ]
