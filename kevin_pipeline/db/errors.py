"""The database's own error, apart from the engine so catching it does not import SQLAlchemy (the
`kevin` command catches it around every command, most of which never open a database)."""

from __future__ import annotations


class DatabaseSetupError(ValueError):
    """The database cannot be used at all (bad URL, unsupported kind, unreachable, not creatable).

    The message never holds the URL's password, so callers may print it as `error: ...`.
    """
