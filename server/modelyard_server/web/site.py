"""The web UI's shared parts: who is signed in, how a page is rendered, how errors read.

Pages call the registry's use cases with the signed-in principal, exactly as the gRPC
servicers do with the caller's: whatever the API would refuse, the UI refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from modelyard.v1 import registry_service_pb2 as rs
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from modelyard_server.domain.errors import (
    DomainError,
    ErrorKind,
    ResourceExhausted,
    Unauthenticated,
)
from modelyard_server.domain.principal import Principal
from modelyard_server.domain.registry import Registry
from modelyard_server.events.hub import EventHub
from modelyard_server.web import display
from modelyard_server.web.sessions import COOKIE, SESSION_SECONDS, Session, SessionSeal

log = logging.getLogger("modelyard.web")

STATIC = Path(__file__).parent / "static"

#: The gRPC API's own token check: metadata with `authorization: Bearer …` to a principal.
# The gRPC API's token check: the request's metadata, and the caller's address (whose
# failed attempts are counted, and throttled, as the API's are).
Authenticate = Callable[[Sequence[tuple[str, str | bytes]], str], Awaitable[Principal]]

STATUS = {
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.OUT_OF_RANGE: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.ABORTED: 409,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.RESOURCE_EXHAUSTED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.DATA_LOSS: 500,
}


class SignInNeeded(Exception):
    """The request has no usable session: the browser goes to the sign-in page."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Visitor:
    """The signed-in browser: its session and the principal its token stands for."""

    session: Session
    principal: Principal


def status_of(error: DomainError) -> int:
    return STATUS.get(error.kind, 400)


def local_path(target: str) -> str:
    """Returns the target if it is a path on this site, else the front page (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/groups"


class Site:
    """What every page needs: the use cases, the event hub, sessions and the templates."""

    def __init__(
        self,
        registry: Registry,
        hub: EventHub[rs.WatchEventsResponse],
        authenticate: Authenticate,
        seal: SessionSeal,
    ) -> None:
        self.registry = registry
        self.hub = hub
        self.authenticate = authenticate
        self.seal = seal
        self.templates = Environment(
            loader=PackageLoader("modelyard_server.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        display.install(self.templates)

    # Sessions

    def session(self, request: Request) -> Session | None:
        return self.seal.open(request.cookies.get(COOKIE))

    async def principal_of(self, token: str, request: Request) -> Principal:
        """Returns the principal of a bearer token, by the gRPC API's own check; the
        visitor's address is the source its failures are counted against."""
        source = request.client.host if request.client is not None else ""
        return await self.authenticate([("authorization", f"Bearer {token}")], source)

    async def visitor(self, request: Request) -> Visitor:
        """Returns the signed-in visitor; SignInNeeded when there is none (or the token no
        longer works: revoked, expired)."""
        session = self.session(request)
        if session is None or not session.token:
            raise SignInNeeded()
        try:
            principal = await self.principal_of(session.token, request)
        except (Unauthenticated, ResourceExhausted) as error:
            raise SignInNeeded(f"Your session ended: {error.message}. Sign in again.") from None
        return Visitor(session, principal)

    def set_session(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.seal.seal(session),
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    # Rendering

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        visitor: Visitor | None = None,
        session: Session | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Returns the page. Every page carries the CSRF token of the browser's session (a
        new anonymous session is started for a browser that has none)."""
        fresh = None
        if visitor is not None:
            session = visitor.session
        if session is None:
            session = self.session(request)
        if session is None:
            session = fresh = Session.new()
        html = self.templates.get_template(template).render(
            request=request,
            path=request.url.path,
            me=visitor.principal if visitor else None,
            csrf=self.seal.csrf(session),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if fresh is not None:
            self.set_session(response, request, fresh)
        return response

    def failure(
        self, request: Request, error: DomainError, visitor: Visitor | None = None
    ) -> HTMLResponse:
        """Returns the page that says what the registry refused and why."""
        return self.render(request, "error.html", status_of(error), visitor, error=error)

    def sign_in_redirect(self, request: Request, message: str = "") -> Response:
        target = quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        )
        url = f"/signin?next={target}" + ("&ended=1" if message else "")
        return RedirectResponse(url, status_code=303)
