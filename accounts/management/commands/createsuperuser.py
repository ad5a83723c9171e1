"""Django's createsuperuser, with the audit record every new system user gets.

It takes the place of django.contrib.auth's command while "accounts" stands before
"django.contrib.auth" in INSTALLED_APPS.
"""

from typing import Any

from django.contrib.auth.management.commands import createsuperuser

from accounts.services import users_audited


class Command(createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with users_audited(command="createsuperuser"):
            super().handle(*args, **options)
