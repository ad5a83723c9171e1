#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livits.settings")
    # manage.py is the developer's tool: development mode unless the environment
    # says otherwise. The WSGI application (gunicorn) has no such default, so a
    # server never runs with DEBUG on by accident; production sets DEBUG=0 for
    # manage.py commands too (docs/deployment.md).
    os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
