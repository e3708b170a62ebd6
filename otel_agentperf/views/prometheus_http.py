"""Reaching a Prometheus server's HTTP API (``/api/v1``), with what its users need to get in: a bearer token
file, basic auth with a password file, extra headers, a CA file and a timeout.

The stdlib is enough (``urllib.request`` with an ``ssl`` context): the API is two GET endpoints answering
JSON. Secrets are read from files, never taken on the command line (where ``ps`` and shell history show
them). Every failure is a :class:`rows.ReportError` whose message is the one line the user sees: a server
that cannot be reached, an HTTP error, or a query Prometheus refused (its own ``error`` text).
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_agentperf.views.rows import ReportError

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Server:
    """A Prometheus server as the commands reach it: its base URL and how to authenticate."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    context: ssl.SSLContext | None = None
    timeout: float = TIMEOUT_S

    def get(self, path: str, params: list[tuple[str, str]]) -> Any:
        """The ``data`` of an API answer; a :class:`ReportError` naming the server for anything else."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=dict(self.headers))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise ReportError(self._refused(exc)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ReportError(f"cannot reach Prometheus at {self.url}: {getattr(exc, 'reason', exc)}") from None
        try:
            answer = json.loads(body)
            if answer.get("status") == "success":
                return answer["data"]
        except (ValueError, AttributeError, KeyError):
            pass
        raise ReportError(f"{self.url} is not a Prometheus HTTP API (no JSON answer at {path})")

    def _refused(self, exc: urllib.error.HTTPError) -> str:
        """One line for an HTTP error: Prometheus' own reason when it gave one (a PromQL error is a 400)."""
        try:
            answer = json.loads(exc.read())
            reason = f"{answer['errorType']}: {answer['error']}"
        except (ValueError, KeyError, TypeError, OSError):
            reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code in (401, 403):
            reason += " (see --bearer-token-file, --username/--password-file, --header)"
        return f"Prometheus at {self.url} refused the request: {reason}"


def _secret(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None


def header(text: str) -> tuple[str, str]:
    """``'Name: value'`` as a header; a :class:`ReportError` for anything else."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(char.isspace() for char in name.strip()):
        raise ReportError(f"not a header: {text!r} (give 'Name: value')")
    return name.strip(), value.strip()


def connect(
    url: str,
    *,
    bearer_token_file: Path | None = None,
    username: str | None = None,
    password_file: Path | None = None,
    headers: list[str] | None = None,
    ca_file: Path | None = None,
    timeout: float = TIMEOUT_S,
) -> Server:
    """The server at ``url`` (its base, as Grafana's datasource names it), with its credentials read now."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ReportError(f"not a Prometheus URL: {url!r} (give its base, such as http://localhost:9090)")
    found = [header(text) for text in headers or []]
    if bearer_token_file is not None:
        if username is not None:
            raise ReportError("give a bearer token or a username, not both")
        found.append(("Authorization", f"Bearer {_secret(bearer_token_file, 'bearer token file')}"))
    if username is not None:
        password = "" if password_file is None else _secret(password_file, "password file")
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        found.append(("Authorization", f"Basic {pair}"))
    elif password_file is not None:
        raise ReportError("--password-file needs --username")
    context = None
    if ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ReportError(f"cannot use the CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
    return Server(url.rstrip("/"), tuple(found), context, timeout)
