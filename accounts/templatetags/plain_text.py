"""`{% load plain_text %}` for the plain-text mail templates: `{{ name|one_line }}`."""

from django import template

from accounts import text

register = template.Library()
# Spaces for control characters add nothing unsafe: safe input stays safe.
register.filter("one_line", text.one_line, is_safe=True)
