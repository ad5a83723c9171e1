"""Plain text from people: names that cannot break a line or turn the text around.

A name typed into a form ends up in mail bodies, exports and the audit trail. Control
characters (Unicode Cc: CR, LF, NUL, ESC, NEL ...), line and paragraph separators
(Zl, Zp) and the bidirectional controls (the part of Cf that reorders what a reader
sees, U+202E and its kin) have no place in a name: they start new lines from data or
hide what is written.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

BIDI_CONTROLS = frozenset(
    "\u061c"  # Arabic letter mark
    "\u200e\u200f"  # left-to-right and right-to-left mark
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, pop, overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)


def is_control(char: str) -> bool:
    """Whether `char` may not stand in a name (see the module docstring)."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


def validate_plain_text(value: str) -> None:
    """The model field validator of names: forms, the admin and full_clean all use it."""
    if any(is_control(char) for char in value):
        raise ValidationError(
            _("Remove the control characters (such as line breaks or tabs) from this name."),
            code="control_character",
        )


def one_line(value: object) -> str:
    """`value` as text on one line: every character a name may not hold becomes a space.
    For data put into mail, where stored values from before the validator may still
    hold them."""
    return "".join(" " if is_control(char) else char for char in str(value))
