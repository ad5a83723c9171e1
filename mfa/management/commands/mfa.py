from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from accounts.models import User
from livits import clock
from mfa import devices, installation, locations, rollout, sessions, sessions_end
from mfa.errors import MfaError
from mfa.forms import TrustedLocationForm
from mfa.models import GO_LIVE_EARLIEST, GO_LIVE_LATEST, MfaSettings, TrustedLocation
from mfa.network import parse_network
from outbox import selectors as outbox_selectors
from outbox import services as outbox_services
from outbox.models import OutboxMail


def _moment(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z")


def go_live_state(mfa_settings: MfaSettings, now: datetime) -> str:
    """One wording of the go-live for the shell, in the configured time zone."""
    if mfa_settings.go_live_at is None:
        return "MFA is not live."
    moment = _moment(mfa_settings.go_live_at)
    live = mfa_settings.is_live(now)
    return f"MFA is live since {moment}." if live else f"MFA goes live at {moment}."


class Command(BaseCommand):
    help = "MFA from the shell: trusted locations, go-live, status, mail, key rotation."

    def add_arguments(self, parser: ArgumentParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        trusted = commands.add_parser("trusted", help="trusted locations")
        trusted_commands = trusted.add_subparsers(dest="trusted_command", required=True)
        add = trusted_commands.add_parser("add", help="add a network")
        add.add_argument("cidr")
        add.add_argument("--name", required=True)
        trusted_commands.add_parser("list", help="list the networks")
        remove = trusted_commands.add_parser("remove", help="remove a network")
        remove.add_argument("cidr")
        golive = commands.add_parser("golive", help="set or undo the go-live")
        golive.add_argument("--at", help="ISO datetime (default: now)")
        golive.add_argument("--undo", action="store_true")
        golive.add_argument(
            "--force",
            action="store_true",
            help="break glass: go live even though no beheerder has MFA (audited)",
        )
        commands.add_parser("status", help="go-live, trusted locations, users without device")
        remind = commands.add_parser(
            "remind",
            help="mail everyone without MFA who was not reminded in the last "
            f"{settings.MFA_REMINDER_INTERVAL_HOURS} hours",
        )
        remind.add_argument("--dry-run", action="store_true", help="only say who would get it")
        remind.add_argument("--include-hidden", action="store_true", help="hidden users too")
        remind.add_argument("--language", choices=["nl", "en"], default="nl")
        commands.add_parser("reencrypt", help="re-encrypt all secrets with the first key")
        commands.add_parser(
            "expire", help="remove every temporary device whose end has passed (run daily)"
        )
        mail = commands.add_parser("mail", help="the outbox: mails per status")
        mail.add_argument("--failed", action="store_true", help="list the undelivered mails")
        mail.add_argument(
            "--requeue",
            action="store_true",
            help="enqueue every pending mail again (run before starting the worker)",
        )
        unlink = commands.add_parser("unlink", help="break glass: unlink every device of a user")
        unlink.add_argument("username")
        unlink.add_argument("--reason", required=True, help="recorded in the audit trail")
        end = commands.add_parser(
            "endsessions", help="break glass: end every session of one user, or of everyone"
        )
        who = end.add_mutually_exclusive_group(required=True)
        who.add_argument("username", nargs="?")
        who.add_argument("--all", action="store_true", help="every system user")
        end.add_argument("--dry-run", action="store_true", help="only say whose would end")

    def handle(self, *args: Any, command: str, **options: Any) -> None:
        getattr(self, f"handle_{command}")(**options)

    def handle_trusted(self, *, trusted_command: str, **options: Any) -> None:
        if trusted_command == "list":
            for location in TrustedLocation.objects.all():
                self.stdout.write(f"{location.network}\t{location.name}")
            return
        if trusted_command == "add":
            self._trusted_add(options["cidr"], options["name"])
            return
        try:
            network = str(parse_network(options["cidr"]))
        except ValueError:
            raise CommandError(f"Not an IPv4 or IPv6 network: {options['cidr']}") from None
        found = TrustedLocation.objects.filter(network=network).first()
        if found is None:
            raise CommandError(f"{network} is not a trusted location.")
        locations.trusted_location_remove(location=found, by=None, ip=None)
        self.stdout.write(f"Removed {network}.")

    def _trusted_add(self, cidr: str, name: str) -> None:
        """Through the settings page's form, so that the shell refuses exactly what the
        page refuses, for the same reasons (in English here)."""
        with translation.override("en"):
            form = TrustedLocationForm({"name": name, "network": cidr})
            if not form.is_valid():
                reasons = " ".join(
                    str(message) for errors in form.errors.values() for message in errors
                )
                raise CommandError(f"{cidr}: {reasons}")
            location = form.save(commit=False)
            try:
                locations.trusted_location_save(location=location, by=None, ip=None)
            except MfaError:
                form.refuse("network_taken")
                raise CommandError(f"{cidr}: {form.errors['network'][0]}") from None
        self.stdout.write(f"Added {location.network} ({name}).")

    def handle_golive(self, *, at: str | None, undo: bool, force: bool, **options: Any) -> None:
        now = clock.now()
        moment = None
        if not undo:
            moment = now
            if at:
                try:
                    moment = datetime.fromisoformat(at)
                except ValueError:
                    raise CommandError(f"Not an ISO datetime: {at}") from None
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment)
            self._list_without_device(now)
        try:
            rollout.go_live_set(at=moment, by=None, ip=None, now=now, forced=force)
        except MfaError as error:
            message = {
                "go_live_out_of_range": f"{at} is out of range: give a moment between "
                f"{GO_LIVE_EARLIEST:%Y-%m-%d} and {GO_LIVE_LATEST:%Y-%m-%d}.",
                "go_live_without_admin_mfa": "No beheerder has MFA linked: after the go-live "
                "nobody could link MFA for anyone. Link a beheerder's app first, or use --force.",
            }[error.code]
            raise CommandError(message) from None
        self.stdout.write(go_live_state(MfaSettings.load(), now))

    def _list_without_device(self, now: datetime) -> None:
        admins, others = rollout.go_live_preview(now)
        for title, users in (("Beheerders without MFA", admins), ("Others without MFA", others)):
            self.stdout.write(f"{title}: {len(users)}")
            for user in users:
                reminded = user.mfa_reminded_at
                when = f"reminded {_moment(reminded)}" if reminded else "never reminded"
                self.stdout.write(f"  {user.username}\t{user.person.informal_name}\t{when}")

    def handle_remind(
        self, *, dry_run: bool, include_hidden: bool, language: str, **options: Any
    ) -> None:
        now = clock.now()
        due = list(rollout.reminders_due(now, include_hidden=include_hidden))
        if dry_run:
            self.stdout.write(f"Would remind {len(due)} person(s):")
            for user in due:
                self.stdout.write(f"  {user.username}\t{user.person.email}")
            return
        sent = rollout.reminders_send(
            by=None,
            now=now,
            site_url=settings.SITE_URL,
            language=language,
            include_hidden=include_hidden,
        )
        self.stdout.write(f"Reminded {sent} person(s).")

    def handle_status(self, **options: Any) -> None:
        now = clock.now()
        mfa_settings = MfaSettings.load()
        self.stdout.write(f"Go-live: {go_live_state(mfa_settings, now)}")
        self.stdout.write(f"Issuer: {mfa_settings.issuer_name}")
        trusted = list(TrustedLocation.objects.all())
        usable = set(locations.usable_networks([location.network for location in trusted]))
        self.stdout.write(f"Trusted locations: {len(trusted)}")
        for location in trusted:
            refused = "" if location.network in usable else "\tREFUSED (trusts nobody: too broad)"
            self.stdout.write(f"  {location.network}\t{location.name}{refused}")
        self._list_without_device(now)

    def handle_mail(self, *, failed: bool, requeue: bool, **options: Any) -> None:
        if requeue:
            count = outbox_services.mail_requeue(now=clock.now())
            self.stdout.write(f"Requeued {count} pending mail(s).")
        elif failed:
            mails = outbox_selectors.mails_failed()
            self.stdout.write(f"Failed mails: {len(mails)}")
            for mail in mails:
                moment = _moment(mail.finished_at or mail.queued_at)
                self.stdout.write(f"  {moment}\t{mail.to}\t{mail.subject}\t{mail.last_error}")
        else:
            for status in OutboxMail.Status:
                count = OutboxMail.objects.filter(status=status).count()
                self.stdout.write(f"{status.label}: {count}")

    def handle_reencrypt(self, **options: Any) -> None:
        count = installation.secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {count} secrets with the first key.")

    def handle_expire(self, **options: Any) -> None:
        removed, persons = devices.devices_expire_everyone(clock.now())
        self.stdout.write(
            f"Removed {removed} temporary device(s) whose end has passed, of {persons} person(s)."
        )

    def handle_unlink(self, *, username: str, reason: str, **options: Any) -> None:
        user = User.objects.named(username).first()
        if user is None:
            raise CommandError(f"No system user {username!r}.")
        if not reason.strip():
            raise CommandError("Give a --reason: it goes into the audit trail.")
        try:
            count = devices.device_unlink_all(
                user=user, by=None, ip=None, now=clock.now(), reason=f"shell: {reason.strip()}"
            )
        except MfaError:
            raise CommandError(f"{user.username} has no linked devices.") from None
        self.stdout.write(f"Unlinked {count} device(s) of {user.username}.")

    def handle_endsessions(
        self, *, username: str | None, all: bool, dry_run: bool, **options: Any
    ) -> None:
        users = User.objects.order_by("username")
        if not all:
            users = users.filter(pk__in=User.objects.named(username or "").values("pk"))
            if not users:
                raise CommandError(f"No system user {username!r}.")
        now = clock.now()
        for user in users:
            count = len(sessions.sessions_open(user, now))
            if dry_run:
                self.stdout.write(f"Would end {user.username}: {count} recorded open session(s).")
            else:
                sessions_end.sessions_end_break_glass(user=user, now=now)
                self.stdout.write(f"Ended {user.username}: {count} recorded open session(s).")
