"""Audit sinks: the audit log streamed to a SIEM (webhook, syslog, JSON-lines file), at least once,
in order, each sink with its own cursor (docs/audit.md, "Streaming to a SIEM").

- `models.py`: a sink and its cursor.
- `wire.py`: an entry as receivers get it (one JSON document per entry).
- `webhook.py`, `syslog.py`, `jsonl.py`: one transport each; `send(sink, entries)` returns only
  when the receiver acknowledged the batch, else raises DeliveryFailed (errors.py).
- `delivery.py`: one sink delivered by one process at a time, cursor and backoff.
- `status.py`: what the pages and `audit_sink list` show (lag in entries and seconds).
- `services.py`: add, remove, replay (called through changes/audit_sinks.py, audited).

The background worker's job that delivers them is in console/audit/jobs.py.
"""
