"""The outbox's one task, run by `manage.py db_worker`."""

from django_tasks import task

from livits import clock

from . import services


@task()
def deliver(mail_id: int) -> str:
    return services.mail_deliver(mail_id=mail_id, now=clock.now()).value
