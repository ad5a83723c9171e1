from django.db.models import Q, QuerySet

from .models import Person, User
from .services import may_manage


def person_search(query: str) -> QuerySet[Person]:
    """Persons matching every word of the query in a name part, the email or the rel. code."""
    persons = Person.objects.select_related("system_user")
    for word in query.split():
        match = (
            Q(first_name__icontains=word)
            | Q(infix__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
        if word.isascii() and word.isdigit() and len(word) < 18:  # "¹²³" is digits, no int
            match |= Q(pk=int(word))
        persons = persons.filter(match)
    return persons


def person_actions(viewer: User, person: Person) -> dict[str, bool]:
    """The buttons `viewer` sees on `person`'s page: those they have the right for and may
    use on this person (may_manage: only a superuser acts on a superuser), so that no
    button shown answers "forbidden"."""
    system_user = getattr(person, "system_user", None)
    manage = may_manage(viewer, system_user)

    def may(*permissions: str) -> bool:
        return manage and viewer.has_perms(permissions)

    return {
        "can_edit": may("accounts.change_person"),
        "can_delete": may("accounts.delete_person"),
        "can_edit_user": system_user is not None and may("accounts.change_user"),
        "can_create_user": system_user is None and may("accounts.change_user", "accounts.add_user"),
        "can_link": system_user is not None and may("mfa.link_device"),
        "can_unlink": system_user is not None and may("mfa.unlink_device"),
        "can_clear_lock": system_user is not None and may("mfa.change_loginthrottle"),
    }
