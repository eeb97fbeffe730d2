"""The identity provider's signing keys: discovered, fetched off the event loop, cached.

The keys are fetched once at start and again, in the background, once they are as old as
the provider's Cache-Control max-age allows (an hour if it says nothing), so a key it
withdrew stops being trusted; and when a token names a key id the cache lacks (the provider
rotated its keys). Fetches are coalesced and rate-limited: however many tokens name unknown
key ids, the provider is asked at most once every `refetch_seconds`. When it cannot be
reached, the keys already known keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard_server.identity.settings import OidcSettings, fetchable

log = logging.getLogger("modelyard.identity")

FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 1 << 20
# Keys are fetched again once this old, unless the provider's Cache-Control says otherwise
# (within a day).
MAX_AGE_SECONDS = 3600.0
LONGEST_AGE_SECONDS = 86400.0
CACHE_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.I)


class FetchError(Exception):
    """The provider's document could not be had; the message says why, in a few words."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect could lead from https to a plain-http key set


_opener = urllib.request.build_opener(_NoRedirects)


def fetch_json(url: str) -> tuple[dict[str, Any], float | None]:
    """Returns the JSON object at the URL and the max-age its Cache-Control gives, if any.
    Blocking: run it in a thread."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
            cache_control = response.headers.get("Cache-Control", "")
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url} answered HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"cannot reach {url}: {error.reason}") from None
    except (OSError, ValueError) as error:
        raise FetchError(f"cannot reach {url}: {error}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FetchError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"{url} answered something that is not JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{url} answered JSON that is not an object")
    max_age = CACHE_MAX_AGE.search(cache_control)
    return document, float(max_age.group(1)) if max_age else None


@dataclass
class KeySet:
    """The provider's public keys by key id (JWK dicts), and when they were last fetched."""

    settings: OidcSettings
    keys: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    fetched: float | None = None  # monotonic time of the last successful fetch
    max_age: float = MAX_AGE_SECONDS  # how long the fetched keys may be trusted
    attempted: float | None = None  # monotonic time of the last attempt, successful or not
    failure: str = ""  # why the last attempt failed
    jwks_url: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.jwks_url = self.settings.jwks_url

    @property
    def known(self) -> bool:
        return self.fetched is not None

    async def key(self, kid: str | None) -> Mapping[str, Any] | None:
        """Returns the key the token names (kid None: the one key, if there is one); fetches
        the keys if none are known, if they are old, or, at most every refetch_seconds, if
        the key id is unknown. Raises FetchError when no key is known and none can be had."""
        now = time.monotonic()
        if self.fetched is None:
            await self.refresh(now)
        elif now - self.fetched > self.max_age:
            self.refresh_soon()  # meanwhile the keys known serve: callers do not wait
        found = self._find(kid)
        if found is None and self.known:
            await self.refresh(now)
            found = self._find(kid)
        if not self.known:
            raise FetchError(self.failure)
        return found

    def _find(self, kid: str | None) -> Mapping[str, Any] | None:
        if kid is not None:
            return self.keys.get(kid)
        return next(iter(self.keys.values())) if len(self.keys) == 1 else None

    def refresh_soon(self) -> None:
        """Starts a refresh in the background, unless one is running."""
        if self.background is None or self.background.done():
            self.background = asyncio.create_task(self.refresh())

    async def close(self) -> None:
        """Stops a background refresh."""
        if self.background is not None:
            self.background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.background

    async def refresh(self, asked: float | None = None) -> None:
        """Fetches the keys unless another fetch finished since `asked`, or one was tried
        less than refetch_seconds ago. Never raises: a failure keeps the keys known."""
        asked = time.monotonic() if asked is None else asked
        async with self.lock:
            if self.attempted is not None:
                if self.attempted >= asked:
                    return  # a fetch that started after the caller asked has answered
                if time.monotonic() - self.attempted < self.settings.refetch_seconds:
                    return
            self.attempted = time.monotonic()
            try:
                keys, max_age = await asyncio.to_thread(self._fetch)
            except FetchError as error:
                self.failure = str(error)
                log.warning("cannot fetch the identity provider's keys: %s", error)
                return
            if keys.keys() != self.keys.keys():
                log.info(
                    "trusting the identity provider's keys %s from %s",
                    ", ".join(sorted(keys)) or "(none)",
                    self.jwks_url,
                )
            self.keys, self.fetched, self.failure = keys, time.monotonic(), ""
            if max_age is None:
                max_age = MAX_AGE_SECONDS
            # Never sooner than a refetch may come: max-age=0 must not mean every call.
            self.max_age = min(max(max_age, self.settings.refetch_seconds), LONGEST_AGE_SECONDS)

    def _fetch(self) -> tuple[dict[str, Mapping[str, Any]], float | None]:
        """Returns the provider's signing keys by key id, and how long they may be trusted.
        Blocking: run it in a thread."""
        if not self.jwks_url:
            self.jwks_url = self._discover()
        document, max_age = fetch_json(self.jwks_url)
        listed = document.get("keys")
        if not isinstance(listed, list):
            raise FetchError(f"{self.jwks_url} is not a JWK set (no 'keys' list)")
        keys: dict[str, Mapping[str, Any]] = {}
        for index, jwk in enumerate(listed):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue  # encryption keys sign nothing
            if jwk.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # a symmetric key must never verify a token
            kid = jwk.get("kid")
            keys[kid if isinstance(kid, str) else f"#{index}"] = jwk
        return keys, max_age

    def _discover(self) -> str:
        """Returns the JWKS URL the issuer's discovery document names."""
        url = self.settings.discovery_url
        document, _ = fetch_json(url)
        if document.get("issuer") != self.settings.issuer:
            # OpenID Connect Discovery 1.0, section 4.3: they must be identical.
            raise FetchError(
                f"{url} names the issuer {document.get('issuer')!r}, not "
                f"{self.settings.issuer!r}; set --oidc-issuer to exactly the provider's issuer"
            )
        jwks_url = document.get("jwks_uri")
        if not isinstance(jwks_url, str):
            raise FetchError(f"{url} names no jwks_uri")
        why = fetchable(jwks_url)
        if why:
            raise FetchError(f"the jwks_uri {jwks_url!r} in {url} {why}")
        return jwks_url
