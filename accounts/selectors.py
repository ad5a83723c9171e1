from django.db.models import Q, QuerySet

from .models import Person


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
