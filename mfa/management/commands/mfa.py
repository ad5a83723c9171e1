from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from mfa import selectors, services
from mfa.models import MfaSettings, TrustedLocation
from mfa.network import parse_network


class Command(BaseCommand):
    help = "MFA from the shell: trusted locations, go-live, status, key rotation."

    def add_arguments(self, parser):
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
        commands.add_parser("status", help="go-live, trusted locations, users without device")
        commands.add_parser("reencrypt", help="re-encrypt all secrets with the first key")
        unlink = commands.add_parser("unlink", help="break glass: unlink every device of a user")
        unlink.add_argument("username")
        unlink.add_argument("--reason", required=True, help="recorded in the audit trail")

    def handle(self, *args, command, **options):
        getattr(self, f"handle_{command}")(**options)

    def handle_trusted(self, *, trusted_command, **options):
        if trusted_command == "list":
            for location in TrustedLocation.objects.all():
                self.stdout.write(f"{location.network}\t{location.name}")
            return
        try:
            network = str(parse_network(options["cidr"]))
        except ValueError:
            raise CommandError(f"Not an IPv4 or IPv6 network: {options['cidr']}") from None
        if trusted_command == "add":
            location = TrustedLocation(name=options["name"], network=network)
            try:
                services.trusted_location_save(location=location, by=None, ip=None)
            except services.MfaError:
                raise CommandError(f"{network} is already a trusted location.") from None
            self.stdout.write(f"Added {network} ({options['name']}).")
        else:
            location = TrustedLocation.objects.filter(network=network).first()
            if location is None:
                raise CommandError(f"{network} is not a trusted location.")
            services.trusted_location_remove(location=location, by=None, ip=None)
            self.stdout.write(f"Removed {network}.")

    def handle_golive(self, *, at, undo, **options):
        if undo:
            services.go_live_set(at=None, by=None, ip=None)
            self.stdout.write("MFA is not live.")
            return
        moment = timezone.now()
        if at:
            try:
                moment = datetime.fromisoformat(at)
            except ValueError:
                raise CommandError(f"Not an ISO datetime: {at}") from None
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        services.go_live_set(at=moment, by=None, ip=None)
        self.stdout.write(f"MFA live from {moment.isoformat()}.")

    def handle_status(self, **options):
        mfa_settings = MfaSettings.load()
        if mfa_settings.go_live_at is None:
            state = "not live"
        elif mfa_settings.is_live(timezone.now()):
            state = f"live since {mfa_settings.go_live_at.isoformat()}"
        else:
            state = f"goes live at {mfa_settings.go_live_at.isoformat()}"
        self.stdout.write(f"Go-live: {state}")
        self.stdout.write(f"Issuer: {mfa_settings.issuer_name}")
        locations = TrustedLocation.objects.all()
        self.stdout.write(f"Trusted locations: {len(locations)}")
        for location in locations:
            self.stdout.write(f"  {location.network}\t{location.name}")
        without = list(selectors.users_without_device(timezone.now()))
        self.stdout.write(f"System users without a device: {len(without)}")
        for user in without:
            self.stdout.write(f"  {user.username}\t{user.person.informal_name}")

    def handle_reencrypt(self, **options):
        count = services.secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {count} secrets with the first key.")

    def handle_unlink(self, *, username, reason, **options):
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"No system user {username!r}.")
        if not reason.strip():
            raise CommandError("Give a --reason: it goes into the audit trail.")
        try:
            count = services.device_unlink_all(
                user=user, by=None, ip=None, now=timezone.now(), reason=f"shell: {reason.strip()}"
            )
        except services.MfaError:
            raise CommandError(f"{user.username} has no linked devices.") from None
        self.stdout.write(f"Unlinked {count} device(s) of {user.username}.")
