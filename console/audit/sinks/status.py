"""How far each sink got: what the sinks page, `audit_sink list` and the dashboard show."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from console.prepared import Prepared

from ..models import AuditEntry
from .models import AuditSink

# The dashboard turns amber when a sink lags more than this.
LAG_WARNING_SECONDS = 300


@dataclass
class SinkStatus:
    sink: AuditSink
    lag_entries: int
    lag_seconds: int  # age of the oldest entry not yet delivered; 0 when caught up

    @property
    def lagging(self) -> bool:
        return self.lag_seconds > LAG_WARNING_SECONDS

    def as_dict(self) -> dict:
        return {
            "name": self.sink.name,
            "kind": self.sink.kind,
            "url": self.sink.url,
            "last_delivered_seq": self.sink.last_delivered_seq,
            "lag_entries": self.lag_entries,
            "lag_seconds": self.lag_seconds,
            "last_error": self.sink.last_error,
        }


def head_seq() -> int:
    return (_HEAD_SEQ.fetch() or [0])[0]


_HEAD_SEQ = Prepared(lambda: AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[:1])


def _oldest_undelivered(cursor: int) -> datetime | None:
    rows = AuditEntry.objects.filter(seq__gt=cursor).order_by("seq")
    return rows.values_list("created_at", flat=True).first()


def sink_status(sink: AuditSink, head: int | None = None) -> SinkStatus:
    head = head_seq() if head is None else head
    lag = max(head - sink.last_delivered_seq, 0)
    oldest = _oldest_undelivered(sink.last_delivered_seq) if lag else None
    seconds = int((timezone.now() - oldest).total_seconds()) if oldest else 0
    return SinkStatus(sink=sink, lag_entries=lag, lag_seconds=max(seconds, 0))


def sinks_status() -> list[SinkStatus]:
    head = head_seq()
    return [sink_status(s, head) for s in _SINKS.fetch()]


_SINKS = Prepared(lambda: AuditSink.objects.order_by("name"))


def lagging_sinks() -> list[SinkStatus]:
    return [s for s in sinks_status() if s.lagging]
