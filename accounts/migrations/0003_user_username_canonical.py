"""One identity per username: the stored canonical form (NFKC + casefold).

Stops before changing anything when two existing usernames share a canonical
form, naming both accounts, so that a beheerder can rename one first.
"""

from collections import defaultdict

import django.contrib.auth.validators
from django.core.management import CommandError
from django.db import migrations, models

import accounts.models
from accounts.models import canonical_username


def refuse_collisions(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    owners = defaultdict(list)
    for pk, username in User.objects.order_by("pk").values_list("pk", "username"):
        owners[canonical_username(username)].append(f"{username!r} (id {pk})")
    clashes = [names for names in owners.values() if len(names) > 1]
    with_colon = list(User.objects.filter(username__contains=":").values_list("username", flat=True))
    problems = [" and ".join(names) + " are the same username" for names in clashes]
    problems += [f"{username!r} contains ':'" for username in with_colon]
    if problems:
        raise CommandError(
            "Cannot add the canonical username: " + "; ".join(problems) + ". Nothing was "
            "changed. Rename these accounts (Relatiebeheer > Personen > Gebruikersgegevens > "
            "Bewerken) and migrate again."
        )


def fill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for user in User.objects.only("pk", "username"):
        User.objects.filter(pk=user.pk).update(username_canonical=canonical_username(user.username))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_user_mfa_changed_at_user_mfa_created_at")]

    operations = [
        migrations.RunPython(refuse_collisions, migrations.RunPython.noop),
        migrations.AddField(
            model_name="user",
            name="username_canonical",
            field=models.CharField(default="", editable=False, max_length=150),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_canonical",
            field=models.CharField(editable=False, max_length=150, unique=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="username",
            field=models.CharField(
                help_text="Letters, digits and @/./+/-/_ only.",
                max_length=150,
                unique=True,
                validators=[
                    django.contrib.auth.validators.UnicodeUsernameValidator(),
                    accounts.models.validate_username_canonical_length,
                ],
                verbose_name="username",
            ),
        ),
        migrations.RemoveConstraint(model_name="user", name="accounts_user_username_ci_unique"),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(("username_canonical", ""), _negated=True),
                name="accounts_user_username_canonical_set",
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(("username__contains", ":"), _negated=True),
                name="accounts_user_username_no_colon",
            ),
        ),
    ]
