from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and the cache answer, 503 otherwise; nothing more is said."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        cache.set("healthz", "ok", 5)
        healthy = cache.get("healthz") == "ok"
    except Exception:  # noqa: BLE001 - whatever failed, the answer is the same
        healthy = False
    if healthy:
        return HttpResponse("ok\n", content_type="text/plain")
    return HttpResponse("unavailable\n", content_type="text/plain", status=503)
