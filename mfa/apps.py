from django.apps import AppConfig
from django.core import checks


class MfaConfig(AppConfig):
    name = "mfa"
    verbose_name = "MFA"

    def ready(self) -> None:
        from .checks import settings_check

        checks.register(settings_check, checks.Tags.security)
