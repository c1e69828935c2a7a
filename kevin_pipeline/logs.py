"""How the `kevin` command logs: a line of text for a person, or one JSON object per line for a log
collector (`KEVIN_LOG_FORMAT=json`: time in UTC ISO 8601, level, logger, message, then the record's
extras). Either way no secret is written: every string passes through `settings.redact` with the
secret values of the settings and of the environment, so a key pasted into a message, an extra or
a traceback comes out as "[redacted]".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from kevin_pipeline.settings import SECRET_FIELDS, Settings, redact, secret_values

TEXT_FORMAT = "%(levelname)s %(message)s"
# LogRecord attributes every record has; anything else on a record came in as `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_OURS = "_kevin_handler"


class RedactingTextFormatter(logging.Formatter):
    """`levelname message` (and any traceback), with every secret value replaced."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(TEXT_FORMAT)
        self._secrets = frozenset(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, one line each; extras that are not JSON become their str()."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = frozenset(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        }
        entry.update(
            time=datetime.fromtimestamp(record.created, UTC).isoformat(),
            level=record.levelname,
            logger=record.name,
            message=record.getMessage(),
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(self._clean(entry), ensure_ascii=False)

    def _clean(self, value: Any) -> Any:
        """`value` as JSON data with every secret redacted (in keys too, and in anything str()-ed)."""
        if isinstance(value, dict):
            return {self._clean(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._clean(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return redact(str(value), self._secrets)


def log_secrets(settings: Settings | None) -> set[str]:
    """Every secret value to keep out of the logs: the settings' own and the environment's."""
    inputs = {} if settings is None else {name: getattr(settings, name) for name in SECRET_FIELDS}
    return secret_values(inputs)


def configure_logging(settings: Settings | None, verbose: bool = False, stream: IO[str] | None = None) -> logging.Handler | None:
    """Send log records to `stream` (default stderr) in the format the settings ask for; INFO and up
    with `verbose`, else WARNING and up. `settings` None (they failed to load; the command reports
    why): plain text.

    Like `logging.basicConfig`, it leaves a logging setup it did not make alone (a test harness, an
    application embedding kevin); calling it again replaces its own handler. Returns the handler
    installed, or None."""
    root = logging.getLogger()
    if any(not getattr(handler, _OURS, False) for handler in root.handlers):
        return None
    for handler in list(root.handlers):
        root.removeHandler(handler)
    secrets = log_secrets(settings)
    handler = logging.StreamHandler(stream)
    setattr(handler, _OURS, True)
    json_lines = settings is not None and settings.log_format == "json"
    handler.setFormatter(JsonFormatter(secrets) if json_lines else RedactingTextFormatter(secrets))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler
