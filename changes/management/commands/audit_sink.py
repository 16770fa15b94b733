"""`manage.py audit_sink {add,list,test,replay,remove,deliver}`: where the audit log is streamed
(docs/audit.md, "Streaming to a SIEM").

Adding, removing and replaying are changes through the pipeline, audited as `cli:<os user>`.
`deliver` runs what the background worker runs: `--once` one pass over every sink (trying sinks
that back off too), `--loop` until stopped. Exit codes: 0 done; 2 bad input (the field and what is
wrong); 1 a receiver did not acknowledge (test, deliver --once); 4 with CONSOLE_APPROVALS on,
`remove` waits for another admin's approval on /changes/<id>/ (removing a sink is risky).
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from changes.audit_sinks import (
    audit_sink_add,
    audit_sink_remove,
    audit_sink_replay,
    audit_sink_test,
)
from changes.engine import waiting_message
from changes.models import Changeset
from console.audit import cli_actor
from console.audit.sinks.delivery import deliver_all
from console.audit.sinks.models import AuditSink
from console.audit.sinks.status import sinks_status
from console.validation import InvalidInput

LOOP_IDLE_SECONDS = 1.0
WAITS_FOR_APPROVAL = 4  # as `apply`: the removal waits for another admin


def _bad_input(exc: InvalidInput) -> CommandError:
    return CommandError("\n".join(f"audit_sink: {e}" for e in exc.errors), returncode=2)


class Command(BaseCommand):
    help = "Add, list, test, replay, remove and deliver the audit log's sinks (SIEM streaming)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="{add,list,test,replay,remove,deliver}"
        )
        add = sub.add_parser("add", help="add a sink (it starts after the newest entry)")
        add.add_argument("name", metavar="NAME")
        add.add_argument("--kind", required=True, choices=AuditSink.Kind.values)
        add.add_argument("--url", required=True, help="https://…, tcp:// or tls://host:port, path")
        add.add_argument("--secret", default="", metavar="env:VAR", help="webhook signing key")
        add.add_argument("--ca-file", default="", metavar="PATH", help="CA bundle for TLS")
        add.add_argument("--from", dest="from_seq", type=int, default=None, metavar="SEQ")
        lister = sub.add_parser("list", help="every sink with its cursor, lag and last error")
        lister.add_argument("--json", action="store_true")
        test = sub.add_parser("test", help="send a test event (seq 0, not part of the chain)")
        test.add_argument("name", metavar="NAME")
        replay = sub.add_parser("replay", help="send again from SEQ (the cursor moves back)")
        replay.add_argument("name", metavar="NAME")
        replay.add_argument("--from", dest="from_seq", type=int, required=True, metavar="SEQ")
        remove = sub.add_parser("remove", help="remove a sink")
        remove.add_argument("name", metavar="NAME")
        deliver = sub.add_parser("deliver", help="deliver now (what the worker does)")
        mode = deliver.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="one pass (the default)")
        mode.add_argument("--loop", action="store_true", help="until stopped")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except InvalidInput as exc:
            raise _bad_input(exc) from None

    def _add(self, name, kind, url, secret, ca_file, from_seq, **_):
        _, sink = audit_sink_add(
            name=name,
            kind=kind,
            url=url,
            secret=secret,
            ca_file=ca_file,
            from_seq=from_seq,
            actor=cli_actor(),
            face="command",
        )
        self.stdout.write(
            f"Added audit sink {sink.name} ({sink.kind}): it gets entries after "
            f"#{sink.last_delivered_seq}."
        )

    def _list(self, json=False, **_):  # noqa: A002 - the option's name
        rows = [s.as_dict() for s in sinks_status()]
        if json:
            self.stdout.write(_dumps(rows))
            return
        if not rows:
            self.stdout.write("No audit sinks. Add one with `audit_sink add`.")
            return
        header = ("NAME", "KIND", "URL", "DELIVERED", "LAG", "LAG (s)", "LAST ERROR")
        keys = ("name", "kind", "url", "last_delivered_seq", "lag_entries", "lag_seconds")
        table = [header, *[(*(str(r[k]) for k in keys), r["last_error"][:60]) for r in rows]]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))

    def _test(self, name, **_):
        error = audit_sink_test(name=name, actor=cli_actor())
        if error:
            raise CommandError(f"audit_sink test {name}: not acknowledged: {error}", returncode=1)
        self.stdout.write(f"Test event sent to {name}: acknowledged.")

    def _replay(self, name, from_seq, **_):
        audit_sink_replay(name=name, from_seq=from_seq, actor=cli_actor(), face="command")
        self.stdout.write(f"{name} sends again from #{from_seq} at its next delivery.")

    def _remove(self, name, **_):
        changeset = audit_sink_remove(name=name, actor=cli_actor(), face="command")
        if changeset and changeset.status == Changeset.Status.AWAITING_APPROVAL:
            raise CommandError(waiting_message(changeset), returncode=WAITS_FOR_APPROVAL)
        self.stdout.write(f"Removed audit sink {name.strip()}.")

    def _deliver(self, loop=False, **_):
        if not loop:
            runs = deliver_all(respect_backoff=False)
            for run in runs:
                self.stdout.write(str(run))
            failed = [r for r in runs if r.error]
            if failed:
                raise CommandError(f"{len(failed)} sink(s) did not acknowledge", returncode=1)
            return
        while True:
            runs = deliver_all(budget_seconds=30)
            if not any(r.sent for r in runs):
                time.sleep(LOOP_IDLE_SECONDS)


def _dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
