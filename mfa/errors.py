"""The one exception MFA services raise for a refused change."""


class MfaError(Exception):
    """A refused MFA change; `code` keys the form's error message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
