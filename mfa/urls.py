from django.urls import path

from . import views

app_name = "mfa"

urlpatterns = [
    path("", views.enrol, name="enrol"),
    path("step-up/", views.step_up, name="step_up"),
    path("devices/remove/", views.device_remove, name="device_remove"),
    path("devices/<int:pk>/rename/", views.device_rename, name="device_rename"),
    path("passkeys/options/", views.passkey_options, name="passkey_options"),
    path("passkeys/", views.passkey_add, name="passkey_add"),
    path("passkeys/<int:pk>/rename/", views.passkey_rename, name="passkey_rename"),
    path("passkeys/remove/", views.passkey_remove, name="passkey_remove"),
    path("passkey-login/options/", views.passkey_login_options, name="passkey_login_options"),
    path("passkey-login/", views.passkey_login, name="passkey_login"),
    path("recovery-codes/", views.recovery_make, name="recovery_make"),
    path("recovery-codes/download/", views.recovery_download, name="recovery_download"),
    path("persons/<int:person_pk>/link/", views.admin_link, name="admin_link"),
    path("persons/<int:person_pk>/unlink/", views.admin_unlink, name="admin_unlink"),
    path("persons/<int:person_pk>/unlock/", views.lock_clear, name="lock_clear"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/issuer/", views.issuer_change, name="issuer"),
    path("settings/passkeys/", views.passkeys_switch, name="passkeys_switch"),
    path("settings/locations/", views.location_save, name="location_add"),
    path("settings/locations/<int:pk>/", views.location_save, name="location_change"),
    path("settings/locations/<int:pk>/remove/", views.location_remove, name="location_remove"),
    path("settings/go-live/", views.go_live, name="go_live"),
    path("reminders/", views.reminders, name="reminders"),
    path("banner/hide/", views.banner_hide, name="banner_hide"),
]
