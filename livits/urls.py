from django.contrib import admin
from django.urls import include, path

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("mfa/", include("mfa.urls")),
    path("reports/", include("reports.urls")),
    path("", include("accounts.urls")),
]

handler500 = "livits.errors.server_error"
