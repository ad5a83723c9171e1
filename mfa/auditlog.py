"""The Auditlog page: every audit record of every person, filtered by person, event and
period, read page by page with a keyset (the last row's moment and id, never OFFSET:
a page deep in a long history costs what the first costs), and exported as CSV with
the reports' cell rule (reports.exports.inert: no cell a spreadsheet evaluates)."""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.text import validate_plain_text
from audit.models import AuditEvent
from reports.exports import display_function, inert

PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AuditFilterForm(forms.Form):
    person = forms.CharField(
        label=_("Account name"), max_length=150, required=False, validators=[validate_plain_text]
    )
    action = forms.ChoiceField(label=_("Event"), required=False)
    since = forms.DateField(label=_("From"), required=False)
    until = forms.DateField(label=_("To"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice = self.fields["action"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [("", _("All events")), *AuditEvent.Action.choices]


def events_filtered(data: dict[str, object]) -> QuerySet[AuditEvent]:
    """The events a valid AuditFilterForm's cleaned data selects, newest first."""
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if data.get("person"):
        events = events.filter(subject_name__iexact=data["person"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    zone = timezone.get_current_timezone()
    if data.get("since"):
        since = datetime.combine(data["since"], time.min, zone)  # type: ignore[arg-type]
        events = events.filter(at__gte=since)
    if data.get("until"):
        until = datetime.combine(data["until"], time.min, zone)  # type: ignore[arg-type]
        events = events.filter(at__lt=until + timedelta(days=1))
    return events


def cursor_of(event: AuditEvent) -> str:
    """The keyset of `event`: its moment in microseconds since the epoch, and its id."""
    moment = event.at - EPOCH
    micros = (moment.days * 86_400 + moment.seconds) * 1_000_000 + moment.microseconds
    return f"{micros}_{event.pk}"


def _cursor(value: str) -> tuple[datetime, int] | None:
    micros, _sep, pk = value.partition("_")
    if not all(part.isascii() and part.isdigit() and len(part) < 18 for part in (micros, pk)):
        return None
    return EPOCH + timedelta(microseconds=int(micros)), int(pk)


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    next_cursor: str | None  # the cursor of the next page, None on the last


def page_after(events: QuerySet[AuditEvent], after: str, size: int = PAGE_SIZE) -> Page:
    """One page of `events` after the cursor `after` (the first page for none or a bad one)."""
    cursor = _cursor(after) if after else None
    if cursor is not None:
        at, pk = cursor
        events = events.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    rows = list(events[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, cursor_of(rows[-1]) if more else None)


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(events: QuerySet[AuditEvent], batch: int = 500) -> Iterator[str]:
    """The events as CSV for Dutch Excel (BOM, ';'), every text cell inert."""
    writer = csv.writer(_Line(), delimiter=";")
    text = display_function()
    header = [gettext("Time"), gettext("Event"), gettext("Account name"), gettext("By")]
    lines = ["\ufeff", writer.writerow([*header, gettext("IP address"), gettext("Detail")])]
    for event in events.iterator(chunk_size=batch):
        actor = event.actor.username if event.actor else ""
        cells = [event.get_action_display(), event.subject_name, actor, event.ip or ""]
        cells.append(event.describe())
        lines.append(writer.writerow([text(event.at), *(inert(str(cell)) for cell in cells)]))
        if len(lines) >= batch:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)
