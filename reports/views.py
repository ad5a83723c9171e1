from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from mfa.models import MfaSettings

from . import exports, selectors
from .forms import FILTER_LABELS, ReportQueryForm
from .reports import REPORTS

PAGE_SIZE = 50


@login_required
@permission_required("reports.view_report", raise_exception=True)
def index(request):
    """Selecties > Rapporten > Rechtenstructuur: the list of reports."""
    return render(request, "reports/index.html", {"reports": REPORTS.values()})


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report(request, slug, export=None):
    report = REPORTS.get(slug)
    if report is None or export not in (None, "csv", "xlsx"):
        raise Http404
    query = ReportQueryForm(request.GET, report=report)
    show, search = query.value("show", "all"), query.value("q", "")
    sort = report.column(query.value("sort", report.columns[1].header))
    descending = query.value("dir", "asc") == "desc"
    now = timezone.now()
    users = selectors.system_users(
        now, show=show, search=search, order_by=sort.order_by, descending=descending
    )

    filename = f"{report.slug}-{timezone.localdate():%Y%m%d}"
    if export == "csv":
        response = StreamingHttpResponse(
            exports.csv_lines(report, users), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if export == "xlsx":
        response = StreamingHttpResponse(
            exports.xlsx_chunks(report, users, request.LANGUAGE_CODE),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response

    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    linked, total = selectors.rollout(now)
    mfa_settings = MfaSettings.load()
    context = {
        "report": report,
        "page": page,
        "rows": [(user, [exports.display(c.value(user)) for c in report.columns]) for user in page],
        "show": show,
        "search": search,
        "sort": sort.header,
        "descending": descending,
        "filters": FILTER_LABELS,
        "linked": linked,
        "total": total,
        "percent": round(100 * linked / total) if total else 0,
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(now),
    }
    return render(request, "reports/report.html", context)
