"""`make run`'s server: Django's threaded development server (with WhiteNoise serving
static files), listening with a queue long enough for a room full of people logging
in at the same moment (Django's own is 10 connections; the rest are reset)."""

from django.core.servers.basehttp import WSGIServer
from whitenoise.runserver_nostatic.management.commands.runserver import (  # type: ignore[import-untyped]
    Command as WhiteNoiseRunserver,
)


class DevelopmentServer(WSGIServer):
    request_queue_size = 128


class Command(WhiteNoiseRunserver):  # type: ignore[misc]
    server_cls = DevelopmentServer
