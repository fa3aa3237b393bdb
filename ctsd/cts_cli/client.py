"""A small synchronous client of the CTS HTTP API, shared by every `cts` subcommand.

It only speaks HTTP: every rule lives in the service, so the CLI can never disagree
with what Pungi, ODCS or a browser would get for the same request.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, cast

import requests

DEFAULT_TIMEOUT = 60.0


class CtsError(Exception):
    """An answer of 4xx/5xx (status and the server's message), or status 0 when the
    service could not be reached or the client cannot authenticate as asked."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class UsageError(CtsError):
    """The command line itself is wrong (exit status 2, like argparse's own errors)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


def _kerberos_auth() -> Any:
    # Optional extra (`pip install ctsd[kerberos]`): only users of --kerberos need GSSAPI
    # libraries on their machine, so it is imported here and not at module load.
    try:
        gssapi = importlib.import_module("requests_gssapi")
    except ImportError as exc:
        raise CtsError(0, "--kerberos needs the requests-gssapi package "
                          "(pip install 'ctsd[kerberos]')") from exc
    return gssapi.HTTPSPNEGOAuth(mutual_authentication=gssapi.OPTIONAL)


class CtsClient:
    """Calls below `base_url` (e.g. http://127.0.0.1:5005); paths start with /api/1/."""

    def __init__(self, base_url: str, token: str | None = None, kerberos: bool = False,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if kerberos:
            self.session.auth = _kerberos_auth()

    def url(self, path: str) -> str:
        """The absolute URL of `path`; absolute URLs (a `next` link) pass unchanged."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def get(self, path: str, params: Any = None) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> Any:
        return self._call("POST", path, json=json)

    def patch(self, path: str, json: Any = None) -> Any:
        return self._call("PATCH", path, json=json)

    def put(self, path: str, json: Any = None) -> Any:
        return self._call("PUT", path, json=json)

    def all_items(self, path: str, params: Any = None, limit: int = 0) -> list[Any]:
        """The `items` of a paged list, following `meta.next`; at most `limit` (0: all)."""
        items: list[Any] = []
        page = self.get(path, params)
        while True:
            items.extend(page["items"])
            if (limit and len(items) >= limit) or not page["meta"].get("next"):
                return items[:limit] if limit else items
            page = self.get(page["meta"]["next"])

    def post_answer(self, path: str, json: Any, headers: dict[str, str]) -> tuple[Any, bool]:
        """POST with extra headers: the answer's body, and whether the service says it
        is a replay of an earlier answer (`Idempotent-Replayed: true`)."""
        try:
            response = self.session.post(self.url(path), json=json, headers=headers,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise CtsError(0, f"cannot reach {self.base_url}: {exc}") from exc
        _raise_for_status(response)
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return response.json(), replayed

    def stream_lines(self, path: str, params: Any = None,
                     headers: dict[str, str] | None = None) -> Iterator[str]:
        """The lines of a long-lived text answer (Server-Sent Events), as they arrive."""
        try:
            response = self.session.get(self.url(path), params=params, headers=headers,
                                        stream=True, timeout=(self.timeout, None))
        except requests.RequestException as exc:
            raise CtsError(0, f"cannot reach {self.base_url}: {exc}") from exc
        with response:
            _raise_for_status(response)
            # text/event-stream is a text/* type, so requests always decodes the lines.
            yield from cast("Iterator[str]", response.iter_lines(decode_unicode=True))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout,
                                            **kwargs)
        except requests.RequestException as exc:
            raise CtsError(0, f"cannot reach {self.base_url}: {exc}") from exc
        _raise_for_status(response)
        if "json" in response.headers.get("Content-Type", ""):
            return response.json()
        return response.text


def _raise_for_status(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    message = response.reason or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    elif response.text:
        message = response.text[:500]
    raise CtsError(response.status_code, message)
