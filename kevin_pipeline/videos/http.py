"""One HTTP GET with a timeout, behind a plain callable so tests hand in recorded answers.

`HttpGet` is `(url, timeout_seconds) -> HttpResponse`. A status other than 2xx is an answer, not
an exception (the caller words the reason); a timeout raises `TimeoutError`, any other failure
to get an answer raises `OSError` (urllib's `URLError` is one).
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

USER_AGENT = "kevin-pipeline (+https://github.com/; video feed reader)"
MAX_BYTES = 5_000_000  # a channel feed is ~50 kB; anything near this is not a feed


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str
    body: bytes


HttpGet = Callable[[str, float], HttpResponse]


def urllib_get(url: str, timeout: float) -> HttpResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https URLs we build
            return HttpResponse(response.status, response.headers.get("Content-Type", ""), response.read(MAX_BYTES))
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", exc.read(MAX_BYTES))
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise TimeoutError(str(exc.reason)) from exc
        raise
