"""The forms that act: sign-in and out, and the governance actions on versions and aliases.

Each checks the form's CSRF token first, then calls the same use case as the gRPC API with
the signed-in principal and the reason typed in; a refusal is shown on the page the form
was on, in the registry's own words. Success redirects (POST, then GET), so reloading a
page never repeats an action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from modelyard.v1 import resources_pb2 as pb
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from modelyard_server.domain import names
from modelyard_server.domain.changes import Mutation
from modelyard_server.domain.errors import (
    DomainError,
    FieldViolation,
    ResourceExhausted,
    Unauthenticated,
    invalid_fields,
)
from modelyard_server.web.display import STAGE_CHOICES
from modelyard_server.web.pages import Pages
from modelyard_server.web.sessions import Session
from modelyard_server.web.site import Site, Visitor, local_path

MAX_FORM_BYTES = 64 * 1024
MAX_TOKEN = 8192


class FormRefused(Exception):
    """A form refused before it is read: no CSRF token of the browser's session, or no form."""


async def read_form(site: Site, request: Request) -> tuple[FormData, Session | None]:
    """Returns the form and the browser's session once the form's CSRF token matches it."""
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise FormRefused("the form is too large or its length is not a number")
    try:
        form = await request.form(max_files=0, max_fields=50)
    except Exception:  # a body that is no form (Starlette raises several kinds)
        raise FormRefused("the request's body is not a form") from None
    session = site.session(request)
    token = form.get("csrf")
    if not isinstance(token, str) or not site.seal.csrf_ok(session, token):
        raise FormRefused(
            "the form's CSRF token is missing or belongs to another session; reload the "
            "page and submit the form again"
        )
    return form, session


def refused_form(error: FormRefused) -> Response:
    return PlainTextResponse(f"Refused: {error}", status_code=403)


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


class Actions:
    def __init__(self, site: Site, pages: Pages) -> None:
        self.site = site
        self.pages = pages
        self.registry = site.registry

    # Signing in and out

    async def sign_in(self, request: Request) -> Response:
        try:
            form, _ = await read_form(self.site, request)
        except FormRefused as error:
            return refused_form(error)
        token = field(form, "token")
        target = local_path(field(form, "next") or "/groups")
        problem = ""
        if not token:
            problem = (
                "Paste a token: `modelyard-server token --subject NAME --role ROLE` makes one."
            )
        elif len(token) > MAX_TOKEN:
            problem = "That is not a token of this registry."
        else:
            try:
                await self.site.principal_of(token, request)
            except (Unauthenticated, ResourceExhausted) as error:
                problem = f"The registry refused that token: {error.message}."
        if problem:
            return self.site.render(
                request, "signin.html", status=401, problem=problem, next=target
            )
        response = RedirectResponse(target, status_code=303)
        self.site.set_session(response, request, Session.new(token))
        return response

    async def sign_out(self, request: Request) -> Response:
        try:
            await read_form(self.site, request)
        except FormRefused as error:
            return refused_form(error)
        response = RedirectResponse("/signin?out=1", status_code=303)
        self.site.set_session(response, request, Session.new())
        return response

    # Governance

    async def _act(
        self,
        request: Request,
        visitor: Visitor,
        group: str,
        act: Callable[[FormData, Mutation], Awaitable[str]],
        version: str = "",
    ) -> Response:
        """Runs one action from a form; redirects to the page it returns, or shows the page
        the form was on with the registry's refusal."""
        try:
            form, _ = await read_form(self.site, request)
        except FormRefused as error:
            return refused_form(error)
        mutation = Mutation(visitor.principal, reason=field(form, "reason"))
        try:
            target = await act(form, mutation)
        except DomainError as error:
            if version:
                return await self.pages.version(request, visitor, group, version, error)
            return await self.pages.group(request, visitor, group, error)
        return RedirectResponse(target, status_code=303)

    async def approve(
        self, request: Request, visitor: Visitor, group: str, version: str
    ) -> Response:
        name = f"groups/{group}/versions/{version}"

        async def act(form: FormData, mutation: Mutation) -> str:
            await self.registry.approvals.approve(mutation, name, field(form, "etag"))
            return f"/{name}?done=approved"

        return await self._act(request, visitor, group, act, version)

    async def reject(
        self, request: Request, visitor: Visitor, group: str, version: str
    ) -> Response:
        name = f"groups/{group}/versions/{version}"

        async def act(form: FormData, mutation: Mutation) -> str:
            await self.registry.approvals.reject(mutation, name, field(form, "etag"))
            return f"/{name}?done=rejected"

        return await self._act(request, visitor, group, act, version)

    async def transition(
        self, request: Request, visitor: Visitor, group: str, version: str
    ) -> Response:
        name = f"groups/{group}/versions/{version}"

        async def act(form: FormData, mutation: Mutation) -> str:
            wanted = field(form, "stage").upper()
            stage = next((s for s, label in STAGE_CHOICES.items() if label == wanted), None)
            if stage is None:
                raise invalid_fields(
                    [FieldViolation("stage", "choose STAGING, PRODUCTION or ARCHIVED")]
                )
            keep = field(form, "keep_production") == "1"
            await self.registry.lifecycle.transition(
                mutation, name, stage, keep, field(form, "etag")
            )
            done = "promoted" if stage == pb.STAGE_PRODUCTION else "moved"
            return f"/{name}?done={done}"

        return await self._act(request, visitor, group, act, version)

    async def rollback(self, request: Request, visitor: Visitor, group: str) -> Response:
        async def act(form: FormData, mutation: Mutation) -> str:
            target = field(form, "target")
            target_name = f"groups/{group}/versions/{target}" if target else ""
            await self.registry.lifecycle.rollback(mutation, names.group_name(group), target_name)
            return f"/groups/{group}?done=rolled-back"

        return await self._act(request, visitor, group, act)

    async def set_alias(self, request: Request, visitor: Visitor, group: str) -> Response:
        back = field_of_query(request, "back")

        async def act(form: FormData, mutation: Mutation) -> str:
            alias = field(form, "alias")
            version = field(form, "version")
            await self.registry.aliases.set(
                mutation,
                pb.Alias(
                    name=f"groups/{group}/aliases/{alias}",
                    version=f"groups/{group}/versions/{version}",
                ),
            )
            page = local_path(back.split("?", 1)[0]) if back else f"/groups/{group}"
            return f"{page}?done=alias-set"

        return await self._act(request, visitor, group, act, version_of(back, group))

    async def delete_alias(
        self, request: Request, visitor: Visitor, group: str, alias: str
    ) -> Response:
        async def act(form: FormData, mutation: Mutation) -> str:
            await self.registry.aliases.delete(mutation, f"groups/{group}/aliases/{alias}", "")
            return f"/groups/{group}?done=alias-deleted#aliases"

        return await self._act(request, visitor, group, act)


def field_of_query(request: Request, name: str) -> str:
    return request.query_params.get(name, "")


def version_of(path: str, group: str) -> str:
    """Returns the version a page path names (`/groups/g/versions/3` → "3"), else ""."""
    prefix = f"/groups/{quote(group)}/versions/"
    rest = path.split("?", 1)[0]
    return rest.removeprefix(prefix) if rest.startswith(prefix) else ""
