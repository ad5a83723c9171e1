from django.urls import path

from .views import installation, padlock, passkeys, rollout, users

app_name = "mfa"

urlpatterns = [
    path("", padlock.enrol, name="enrol"),
    path("step-up/", padlock.step_up, name="step_up"),
    path("devices/remove/", padlock.device_remove, name="device_remove"),
    path("devices/<int:pk>/rename/", padlock.device_rename, name="device_rename"),
    path("passkeys/options/", passkeys.passkey_options, name="passkey_options"),
    path("passkeys/", passkeys.passkey_add, name="passkey_add"),
    path("passkeys/<int:pk>/rename/", passkeys.passkey_rename, name="passkey_rename"),
    path("passkeys/remove/", passkeys.passkey_remove, name="passkey_remove"),
    path("passkey-login/options/", passkeys.passkey_login_options, name="passkey_login_options"),
    path("passkey-login/", passkeys.passkey_login, name="passkey_login"),
    path("recovery-codes/", padlock.recovery_make, name="recovery_make"),
    path("recovery-codes/download/", padlock.recovery_download, name="recovery_download"),
    path("persons/<int:person_pk>/link/", users.admin_link, name="admin_link"),
    path("persons/<int:person_pk>/unlink/", users.admin_unlink, name="admin_unlink"),
    path("persons/<int:person_pk>/unlock/", users.lock_clear, name="lock_clear"),
    path("settings/", installation.settings_page, name="settings"),
    path("settings/issuer/", installation.issuer_change, name="issuer"),
    path("settings/passkeys/", installation.passkeys_switch, name="passkeys_switch"),
    path("settings/locations/", installation.location_save, name="location_add"),
    path("settings/locations/<int:pk>/", installation.location_save, name="location_change"),
    path(
        "settings/locations/<int:pk>/remove/", installation.location_remove, name="location_remove"
    ),
    path("settings/go-live/", rollout.go_live, name="go_live"),
    path("reminders/", rollout.reminders, name="reminders"),
    path("banner/hide/", rollout.banner_hide, name="banner_hide"),
]
