from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "CRM"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .services import beheerders_group_sync

        # login_record (called by mfa.login) records last_login with the login count,
        # in one UPDATE.
        user_logged_in.disconnect(dispatch_uid="update_last_login")

        # Runs after every app's migrations, once its permissions exist, so the
        # Beheerders group always carries the rights the manual gives it.
        post_migrate.connect(beheerders_group_sync, dispatch_uid="beheerders_group_sync")
