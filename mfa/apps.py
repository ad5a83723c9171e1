from django.apps import AppConfig
from django.core import checks


class MfaConfig(AppConfig):
    name = "mfa"
    verbose_name = "MFA"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .checks import settings_check

        checks.register(settings_check, checks.Tags.security)
        # accounts.services.login_record (called by every sign-in here) records last_login
        # with the login count in one UPDATE. Disconnected here, after django.contrib.auth
        # connected it (accounts stands before auth in INSTALLED_APPS for its commands).
        user_logged_in.disconnect(dispatch_uid="update_last_login")
