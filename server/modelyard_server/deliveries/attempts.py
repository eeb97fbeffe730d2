"""One attempt at a delivery over HTTP: resolve the host, check every address it has, POST
to one that passed, and say in a few words what went wrong."""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from modelyard_server.deliveries.destinations import (
    PUBLIC_ONLY,
    Destinations,
    Refused,
    Unresolvable,
)
from modelyard_server.deliveries.model import Outcome


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address that was checked, whatever the host now resolves to."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; the certificate must name the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            raw.close()
            raise


def why_failed(error: BaseException) -> str:
    """Returns what went wrong with an attempt, in a few words fit for the delivery record:
    never the exception's text, which names internal hosts and ports."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "TLS error: the certificate is not trusted for the host"
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return "TLS error"
    if isinstance(error, Unresolvable):
        return "cannot resolve the host"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "connection reset"
    if isinstance(error, http.client.HTTPException):
        return "not an HTTP answer"
    if isinstance(error, ValueError):
        return "the request could not be made from the URL"
    if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "host unreachable"
    return "connection failed"


def post_http(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
    destinations: Destinations = PUBLIC_ONLY,
) -> Outcome:
    """POSTs the body to an address of the URL's host that `destinations` allows; returns ok
    for a 2xx answer, else the status and what went wrong. Redirects are not followed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
        addresses = destinations.resolve(host, port)
    except Refused as refused:
        return Outcome(False, 0, f"refused: {refused}", final=True)
    except ValueError:
        return Outcome(False, 0, "the URL is not valid: set a valid one", final=True)
    except Unresolvable as error:
        return Outcome(False, 0, why_failed(error))
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    kind = _PinnedHTTPS if https else _PinnedHTTP
    failure: BaseException | None = None
    for address in addresses:  # each one was checked; the first that answers is used
        connection = kind(host, port, str(address), timeout)
        try:
            connection.request("POST", target, body=body, headers=dict(headers))
            status = int(connection.getresponse().status)
        except (OSError, http.client.HTTPException, ValueError) as error:
            failure = error
            if isinstance(error, OSError) and not isinstance(error, TimeoutError | ssl.SSLError):
                continue  # another address of the host may answer
            break
        finally:
            connection.close()
        if 200 <= status < 300:
            return Outcome(True, status)
        return Outcome(False, status, f"HTTP {status}")
    assert failure is not None
    return Outcome(False, 0, why_failed(failure))
