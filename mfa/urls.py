from django.urls import path

from . import views

app_name = "mfa"

urlpatterns = [
    path("", views.enrol, name="enrol"),
    path("step-up/", views.step_up, name="step_up"),
    path("devices/remove/", views.device_remove, name="device_remove"),
    path("devices/<int:pk>/rename/", views.device_rename, name="device_rename"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/go-live/", views.go_live, name="go_live"),
]
