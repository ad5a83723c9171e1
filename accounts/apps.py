from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "CRM"

    def ready(self) -> None:
        from .services import beheerders_group_sync

        # Runs after every app's migrations, once its permissions exist, so the
        # Beheerders group always carries the rights the manual gives it.
        post_migrate.connect(beheerders_group_sync, dispatch_uid="beheerders_group_sync")
