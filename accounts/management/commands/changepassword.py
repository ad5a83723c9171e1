"""Django's changepassword, with the audit record every change to a system user gets.

It takes the place of django.contrib.auth's command while "accounts" stands before
"django.contrib.auth" in INSTALLED_APPS.
"""

from typing import Any

from django.contrib.auth.management.commands import changepassword

from accounts.services import users_audited


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str:
        with users_audited(command="changepassword"):
            return str(super().handle(*args, **options))
