"""Auditlog (beheerders): every person's audit records, filtered, paged by keyset, as CSV."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from reports.exports import CONTENT_TYPES

from ..auditlog import AuditFilterForm, csv_lines, events_filtered, page_after


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
@require_GET
def auditlog(request: AuthenticatedRequest) -> HttpResponse | StreamingHttpResponse:
    form = AuditFilterForm(request.GET)
    events = events_filtered(form.cleaned_data if form.is_valid() else {})
    if request.GET.get("export") == "csv" and form.is_valid():
        response = StreamingHttpResponse(csv_lines(events), content_type=CONTENT_TYPES["csv"])
        response["Content-Disposition"] = 'attachment; filename="auditlog.csv"'
        return response
    page = page_after(events if form.is_valid() else events.none(), request.GET.get("after", ""))
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("export", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "mfa/auditlog.html", context)
