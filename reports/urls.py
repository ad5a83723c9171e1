from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("rechtenstructuur/", views.index, name="index"),
    path("rechtenstructuur/<slug:slug>/", views.report, name="report"),
    path(
        "rechtenstructuur/<slug:slug>/export.<str:export>",
        views.report,
        name="export",
    ),
]
