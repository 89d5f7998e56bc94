"""The one error type for problems a user can fix."""


class HandoutError(Exception):
    """A problem in the user's input, reported as one line and exit 1.

    ``where`` is a file (and line) the message is about; ``hint`` says how to
    fix it. The CLI prints ``where: message (hint)`` and nothing else.
    """

    exit_code = 1

    def __init__(self, message, where=None, hint=None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self):
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(HandoutError):
    """A bad command-line value: exit 2."""

    exit_code = 2


class UnknownLocale(UsageError):
    """A locale code with no catalog to use for it (exit 2). With several
    topics, a topic that lacks the locale is skipped rather than failed."""
