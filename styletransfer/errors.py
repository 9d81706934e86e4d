"""The one exception type for mistakes a user can make: the CLI prints its message on one line."""


class UserError(Exception):
    """Bad input from the user (missing file, unknown composer, bad recipe key...)."""
