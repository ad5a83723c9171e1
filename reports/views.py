from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import formats, timezone

from accounts.http import AuthenticatedRequest
from livits import clock
from mfa import rollout
from mfa.middleware import mfa_settings_of

from . import exports, keyset, selectors, streams
from .forms import FILTER_LABELS, ReportQueryForm
from .reports import REPORTS
from .search import COUNT_LIMIT

PAGE_SIZE = 50


@login_required
@permission_required("reports.view_report", raise_exception=True)
def index(request: AuthenticatedRequest) -> HttpResponse:
    """Selecties > Rapporten > Rechtenstructuur: the list of reports."""
    return render(request, "reports/index.html", {"reports": REPORTS.values()})


@login_required
@permission_required("reports.view_report", raise_exception=True)
def report(request: AuthenticatedRequest, slug: str, export: str | None = None) -> HttpResponseBase:
    report = REPORTS.get(slug)
    if report is None or export not in (None, *exports.CONTENT_TYPES):
        raise Http404
    query = ReportQueryForm(request.GET, report=report)
    show, search = query.value("show", "all"), query.value("q", "")
    sort = report.column(query.value("sort", "")) or report.columns[1]
    order = keyset.Order((*sort.order_by, "id"), query.value("dir", "asc") == "desc")
    now = clock.now()
    if export:
        rows = streams.every_row(now, fields=report.fields, order=order, show=show, search=search)
        filename = f"{report.slug}-{timezone.localdate():%Y%m%d}"
        return exports.response(
            report, rows, export, language=request.LANGUAGE_CODE, filename=filename
        )
    page = selectors.page(
        now,
        fields=report.fields,
        order=order,
        show=show,
        search=search,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        last="last" in request.GET,
        size=PAGE_SIZE,
        limit=COUNT_LIMIT,
    )
    linked, total = rollout.rollout_figure(now)
    matching = page.matching or 0  # counted at least up to COUNT_LIMIT + 1 (limit)
    display = exports.display_function()
    mfa_settings = mfa_settings_of(request)
    context = {
        "report": report,
        "page": page,
        "rows": [(row, [display(c.value(row)) for c in report.columns]) for row in page.rows],
        "previous": page.boundary(page.rows[0]) if page.rows and not page.first else None,
        "next": page.boundary(page.rows[-1]) if page.rows and not page.last else None,
        "matching": matching,
        "more_than": formats.number_format(COUNT_LIMIT, force_grouping=True)
        if matching > COUNT_LIMIT
        else None,
        "show": show,
        "search": search,
        "sort": sort.header,
        "descending": order.descending,
        "filters": FILTER_LABELS,
        "linked": linked,
        "total": total,
        "percent": round(100 * linked / total) if total else 0,
        "mfa_settings": mfa_settings,
        "is_live": mfa_settings.is_live(now),
    }
    return render(request, "reports/report.html", context)
