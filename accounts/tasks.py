"""The accounts' one task, run by `manage.py db_worker`: the mails of "Wachtwoord vergeten"
(accounts.passwords), looked up after the request so that its answer never depends on
whether the name exists."""

from django_tasks import task

from livits import clock

from . import passwords


@task()
def password_links(name: str, ip: str | None, language: str) -> int:
    return passwords.password_links_send(name=name, ip=ip, now=clock.now(), language=language)
