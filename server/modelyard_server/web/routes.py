"""The UI's addresses: which handler serves each path, behind the sign-in check and the one
place that turns the registry's errors into pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from modelyard_server.domain.errors import DomainError
from modelyard_server.web.actions import Actions
from modelyard_server.web.live import live
from modelyard_server.web.pages import Pages
from modelyard_server.web.site import STATIC, SignInNeeded, Site, Visitor, local_path

log = logging.getLogger("modelyard.web")

Handler = Callable[..., Awaitable[Response]]


def signed_in(site: Site, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Returns the endpoint that serves `handler` to a signed-in visitor, with the path's
    parameters as keyword arguments; the registry's refusals become readable pages."""

    async def endpoint(request: Request) -> Response:
        visitor = None
        try:
            visitor = await site.visitor(request)
            return await handler(request, visitor, **request.path_params)
        except SignInNeeded as needed:
            if request.method != "GET":
                return HTMLResponse("Sign in first.", status_code=401)
            return site.sign_in_redirect(request, needed.message)
        except DomainError as error:
            return site.failure(request, error, visitor)
        except Exception:
            log.exception("the page %s failed", request.url.path)
            return site.render(request, "broken.html", status=500, visitor=visitor)

    return endpoint


def build_app(site: Site) -> Starlette:
    """Returns the UI as an ASGI app."""
    pages = Pages(site)
    actions = Actions(site, pages)

    async def front(request: Request) -> Response:
        return RedirectResponse("/groups", status_code=303)

    async def sign_in_page(request: Request) -> Response:
        notice = ""
        if request.query_params.get("ended"):
            notice = "Your session ended; sign in again."
        if request.query_params.get("out"):
            notice = "You are signed out."
        return site.render(
            request,
            "signin.html",
            problem="",
            notice=notice,
            next=local_path(request.query_params.get("next", "/groups")),
        )

    async def live_events(request: Request, visitor: Visitor) -> Response:
        return await live(site, request, visitor)

    def page(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, signed_in(site, handler), methods=list(methods))

    post = ("POST",)
    routes: list[BaseRoute] = [
        Route("/", front),
        Route("/signin", sign_in_page, methods=["GET"]),
        Route("/signin", actions.sign_in, methods=["POST"]),
        Route("/signout", actions.sign_out, methods=["POST"]),
        page("/groups", pages.groups),
        page("/groups/{group}", pages.group),
        page("/groups/{group}/compare", pages.compare),
        page("/groups/{group}/versions/{version}", pages.version),
        page("/groups/{group}/versions/{version}/approve", actions.approve, post),
        page("/groups/{group}/versions/{version}/reject", actions.reject, post),
        page("/groups/{group}/versions/{version}/transition", actions.transition, post),
        page("/groups/{group}/rollback", actions.rollback, post),
        page("/groups/{group}/aliases", actions.set_alias, post),
        page("/groups/{group}/aliases/{alias}/delete", actions.delete_alias, post),
        page("/audit", pages.audit),
        page("/live", live_events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def not_found(request: Request, exc: Any) -> Response:
        return site.render(request, "missing.html", status=404)

    return Starlette(routes=routes, exception_handlers={404: not_found})
