"""The outbox: every mail the backoffice sends, written in the transaction of the change it
reports and delivered by the worker (`manage.py db_worker`)."""
