"""The client: :class:`AsyncRegistry`, one method per thing a user does with the registry
(see :mod:`modelyard.aio` and :mod:`modelyard.client`)."""

# The `timeout` keywords are gRPC deadlines sent with each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import grpc.aio
from google.protobuf.message import Message

from modelyard import _artifacts as local
from modelyard import _requests as build
from modelyard import contracts, types
from modelyard._artifacts import Progress
from modelyard._async.follow import DEFAULT_MAX_STALENESS, AsyncFollowed
from modelyard._async.pagers import (
    AsyncAliasesPager,
    AsyncApprovalsPager,
    AsyncAuditEventsPager,
    AsyncListPager,
    AsyncModelGroupsPager,
    AsyncModelVersionsPager,
    AsyncTokensPager,
    AsyncWebhookDeliveriesPager,
    AsyncWebhooksPager,
    ItemT,
    PageT,
)
from modelyard._async.transport import AsyncStubs, AsyncTransport
from modelyard._async.watch import AsyncWatch
from modelyard._concurrency import gathered, offload, pending
from modelyard._views import proto_of
from modelyard._watch_cursor import watch_request
from modelyard.contracts import Violation
from modelyard.errors import DigestMismatch, from_rpc_error, unreachable
from modelyard.names import group_name, version_name, version_or_alias_name
from modelyard.transport import (
    DEFAULT_TIMEOUT,
    Metadata,
    RetryPolicy,
    call_metadata,
    resolve_tls,
)
from modelyard.v1 import (
    artifact_service_pb2,
    audit_service_pb2,
    resources_pb2,
    retention_service_pb2,
)

__all__ = ["AsyncRegistry"]

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)
ViewT = TypeVar("ViewT")


class AsyncRegistry:
    """A connection to a modelyard registry, for asyncio code.

    The channel opens on the first call, and again on the first call after :meth:`close`,
    so an asyncio client may be built before its event loop runs; it then belongs to that
    loop.

    Args:
        address: ``host:port`` of the server; default $MODELYARD_ADDRESS, else
            ``127.0.0.1:50051``.
        token: the bearer token; default $MODELYARD_TOKEN, else the file named by
            $MODELYARD_TOKEN_FILE, else ``$MODELYARD_DATA_DIR/admin.token`` when that is
            set, else ``${XDG_CONFIG_HOME:-~/.config}/modelyard/token``: the same from any
            directory.
        timeout: seconds each call may take over all its attempts, unless the call says
            otherwise; None waits forever.
        max_attempts: how often a call that fails with UNAVAILABLE is tried in all.
        tls_ca: a PEM file of the CA that signed the server's certificate, for a registry
            that serves TLS; default $MODELYARD_TLS_CA. The system's CAs are trusted when only
            a client certificate is given.
        tls_cert: a PEM file of the client's certificate, for a registry that requires one
            (mTLS); default $MODELYARD_TLS_CERT. It takes ``tls_key``, its private key
            (default $MODELYARD_TLS_KEY).
        credentials: gRPC channel credentials, instead of the ``tls_`` files. Without
            either, the channel is plaintext.

    Every method takes keyword-only ``timeout`` (None: the registry's) and ``metadata``
    (extra ``(key, value)`` pairs sent with the call), and raises a subclass of
    :class:`modelyard.ModelyardError` when the call fails. Groups are named by id
    (``"fraud"``) or resource name (``"groups/fraud"``).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        tls_ca: str | PathLike[str] | None = None,
        tls_cert: str | PathLike[str] | None = None,
        tls_key: str | PathLike[str] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        given = (tls_ca, tls_cert, tls_key)
        if credentials is not None and any(path is not None for path in given):
            raise ValueError("pass credentials= or the tls_ca/tls_cert/tls_key files, not both")
        tls = None if credentials is not None else resolve_tls(*given)
        self._transport = AsyncTransport(
            address,
            token=token,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max_attempts),
            credentials=credentials,
            tls=tls,
        )

    @property
    def _stubs(self) -> AsyncStubs:
        return self._transport.stubs

    @property
    def address(self) -> str:
        """The address this client dials."""
        return self._transport.address

    async def close(self) -> None:
        """Closes the channel; a later call opens a new one."""
        await self._transport.close()

    async def __aenter__(self) -> AsyncRegistry:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncRegistry(address={self.address!r})"

    async def _view(
        self,
        view: Callable[[ResponseT], ViewT],
        method: grpc.aio.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        timeout: float | None,
        metadata: Metadata | None,
    ) -> ViewT:
        """Returns the view of a unary call's response (see :mod:`modelyard.types`)."""
        return view(await self._transport.call(method, request, timeout=timeout, metadata=metadata))

    async def _list(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[build.ListRequestT, PageT],
        request: build.ListRequestT,
        items: Callable[[PageT], Sequence[ItemT]],
        timeout: float | None,
        metadata: Metadata | None,
    ) -> AsyncListPager[ItemT, PageT]:
        """Returns the pager of a list call, with its first page fetched."""

        async def fetch(token: str) -> PageT:
            return await self._transport.call(
                method, build.page_after(request, token), timeout=timeout, metadata=metadata
            )

        return AsyncListPager(fetch, await fetch(""), items)

    # Model groups

    async def create_group(
        self,
        group_id: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelGroup:
        """Returns the new model group ``groups/{group_id}``.

        Raises ModelGroupAlreadyExists if the id is taken (unless this is a retry of the
        same ``request_id``).
        """
        request = build.create_group(
            group_id, description=description, tags=tags, request_id_=request_id
        )
        return await self._view(
            types.ModelGroup, self._stubs.registry.CreateModelGroup, request, timeout, metadata
        )

    async def get_group(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.ModelGroup:
        """Returns the model group; raises ModelGroupNotFound if there is none."""
        request = build.get_group(group)
        return await self._view(
            types.ModelGroup, self._stubs.registry.GetModelGroup, request, timeout, metadata
        )

    async def list_groups(
        self,
        *,
        filter: str = "",
        order_by: str = "",
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncModelGroupsPager:
        """Returns a pager over the model groups that match ``filter``, in ``order_by`` order.

        ``filter`` e.g. ``tags.team = "risk"``; ``order_by`` ``name`` (default),
        ``create_time`` or ``update_time``, optionally followed by ``desc``.
        """
        request = build.list_groups(filter=filter, order_by=order_by, page_size=page_size)
        return await self._list(
            self._stubs.registry.ListModelGroups,
            request,
            lambda page: [types.ModelGroup(item) for item in page.model_groups],
            timeout,
            metadata,
        )

    async def update_group(
        self,
        group: build.ModelGroupLike,
        *,
        update_mask: Sequence[str],
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelGroup:
        """Returns the group after setting the fields named in ``update_mask`` from ``group``.

        ``group.name`` says which group; paths are ``description`` and ``tags``. If
        ``group.etag`` is set and stale, raises StaleEtag.
        """
        request = build.update_group(group, update_mask=update_mask, request_id_=request_id)
        return await self._view(
            types.ModelGroup, self._stubs.registry.UpdateModelGroup, request, timeout, metadata
        )

    async def delete_group(
        self,
        group: str,
        *,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Deletes the group; returns nothing.

        Raises ModelGroupNotEmpty while it has versions unless ``force``, and StaleEtag if
        ``etag`` is given and stale.
        """
        request = build.delete_group(group, etag=etag, force=force, request_id_=request_id)
        await self._transport.call(
            self._stubs.registry.DeleteModelGroup, request, timeout=timeout, metadata=metadata
        )

    # Model versions

    async def create_version(
        self,
        group: str,
        version: build.ModelVersionLike,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the registered version, numbered by the server.

        Raises DuplicateArtifact if the group has a version with the same sha256.
        """
        request = build.create_version(group, version, request_id_=request_id)
        return await self._view(
            types.ModelVersion, self._stubs.registry.CreateModelVersion, request, timeout, metadata
        )

    async def register(
        self,
        group: str,
        *,
        path: str | Path | None = None,
        uri: str = "",
        sha256: str = "",
        size_bytes: int = 0,
        format: build.ArtifactFormatLike = types.ArtifactFormat.OTHER,
        framework: str = "",
        framework_version: str = "",
        metrics: Mapping[str, float] | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        inference_image: str = "",
        lineage: types.Lineage | resources_pb2.Lineage | None = None,
        model_card: types.ModelCard | resources_pb2.ModelCard | None = None,
        schema: types.ModelSchema | resources_pb2.ModelSchema | None = None,
        progress: Progress | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the new version registered from these fields (see :meth:`create_version`).

        With ``path`` (a file or a directory), the registry holds the artifact: the files are
        hashed here, those the group lacks are uploaded (resuming after a broken
        connection; ``progress(done, total)`` follows the bytes), and the registry checks
        every digest and computes the artifact's. Without it, ``uri`` and ``sha256`` record
        where the artifact lives and what its digest is, as a claim the registry cannot check.

        ``format`` is an ``ArtifactFormat`` value or a name such as ``"onnx"``,
        ``"saved_model"``, ``"pickle"``; ``timeout`` bounds each call, not the whole upload.
        """
        if path is not None and (uri or sha256 or size_bytes):
            raise ValueError(
                "give path= (the registry stores the files) or uri= and sha256=, not both"
            )
        version = build.new_version(
            uri=uri,
            sha256=sha256,
            size_bytes=size_bytes,
            format=format,
            framework=framework,
            framework_version=framework_version,
            metrics=metrics,
            hyperparameters=hyperparameters,
            tags=tags,
            description=description,
            inference_image=inference_image,
            lineage=lineage,
            model_card=model_card,
            schema=schema,
        )
        if path is None:
            return await self.create_version(
                group, version, request_id=request_id, timeout=timeout, metadata=metadata
            )
        directory, files = await offload(local.scan, Path(path))
        await self._upload_files(
            group, files, progress=progress, timeout=timeout, metadata=metadata
        )
        version.artifact.directory = directory
        request = build.create_version(group, version, request_id_=request_id)
        request.artifact_files.extend(f.proto() for f in files)
        return await self._view(
            types.ModelVersion, self._stubs.registry.CreateModelVersion, request, timeout, metadata
        )

    async def get_version(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version: ``("fraud", 3)``, ``("fraud", "latest")`` or
        ``("groups/fraud/versions/3")``; raises ModelVersionNotFound if there is none."""
        request = build.get_version(group_or_name, version)
        return await self._view(
            types.ModelVersion, self._stubs.registry.GetModelVersion, request, timeout, metadata
        )

    async def validate(
        self,
        group_or_name: str,
        version: int | str | None,
        data: Any,
        *,
        side: Literal["inputs", "outputs"] = "inputs",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> list[Violation]:
        """Returns every way ``data`` breaks the input schema (or the output schema, with
        ``side="outputs"``) of the version a number, ``"latest"`` or an alias picks
        (``("fraud", "champion")``); [] when it conforms.

        ``data`` is a list of dicts, a pandas DataFrame or a pyarrow Table: see
        :func:`modelyard.contracts.validate`. Raises ValueError when the version has no
        schema on that side.
        """
        name = version_or_alias_name(group_or_name, version)
        request = build.get_version(name, None)
        found = await self._view(
            types.ModelVersion, self._stubs.registry.GetModelVersion, request, timeout, metadata
        )
        columns = found.schema.inputs if side == "inputs" else found.schema.outputs
        if not columns:
            raise ValueError(
                f"{found.name} has no {side} schema to check data against; "
                "register versions with schema= to use validate"
            )
        return await offload(contracts.validate, columns, data)

    async def list_versions(
        self,
        group: str = "-",
        *,
        filter: str = "",
        order_by: str = "",
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncModelVersionsPager:
        """Returns a pager over the group's versions (every group's with ``"-"``), newest first
        unless ``order_by`` says otherwise.

        ``filter`` e.g. ``stage = PRODUCTION AND metrics.auc > 0.9``; ``order_by`` e.g.
        ``metrics.auc desc``.
        """
        request = build.list_versions(group, filter=filter, order_by=order_by, page_size=page_size)
        return await self._list(
            self._stubs.registry.ListModelVersions,
            request,
            lambda page: [types.ModelVersion(item) for item in page.model_versions],
            timeout,
            metadata,
        )

    async def update_version(
        self,
        version: build.ModelVersionLike,
        *,
        update_mask: Sequence[str],
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version after setting the fields named in ``update_mask``.

        ``version.name`` says which version; paths are ``description``, ``tags``,
        ``tags.<key>``, ``model_card`` and ``model_card.<field>``. Other paths raise
        ImmutableField; a stale ``version.etag`` raises StaleEtag.
        """
        request = build.update_version(version, update_mask=update_mask, request_id_=request_id)
        return await self._view(
            types.ModelVersion, self._stubs.registry.UpdateModelVersion, request, timeout, metadata
        )

    async def set_tag(
        self,
        group_or_name: str,
        version: int | str | None,
        key: str,
        value: str,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version after setting one tag, leaving its other tags as they are."""
        request = build.set_tag(group_or_name, version, key, value, request_id)
        return await self._view(
            types.ModelVersion, self._stubs.registry.UpdateModelVersion, request, timeout, metadata
        )

    async def delete_version(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        etag: str = "",
        force: bool = False,
        reason: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Deletes the version; returns nothing. Its number is never reused.

        Raises VersionInProduction while it is in production, VersionOnLegalHold while it
        is held, and HasDependents while a PRODUCTION version depends on it, unless
        ``force`` (with a ``reason``, logged).
        """
        request = build.delete_version(
            group_or_name, version, etag=etag, request_id_=request_id, force=force, reason=reason
        )
        await self._transport.call(
            self._stubs.registry.DeleteModelVersion, request, timeout=timeout, metadata=metadata
        )

    async def list_dependents(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> list[types.Dependent]:
        """Returns the versions that depend on the version (``lineage.depends_on``),
        directly or through others, nearest first, each with its stage and ``depth``."""
        request = build.list_dependents(group_or_name, version)
        response = await self._transport.call(
            self._stubs.registry.ListDependents, request, timeout=timeout, metadata=metadata
        )
        return [types.Dependent(d) for d in response.dependents]

    # Approvals

    async def approve(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        reason: str = "",
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version with the caller's approval counted: ``("fraud", 3)`` or
        ``"groups/fraud/versions/3"``.

        It becomes APPROVED once the group's required number of distinct reviewers have
        approved. Raises SelfApprovalForbidden when the caller registered it and the policy
        forbids that, MissingPermission without an approver role, StaleEtag if ``etag`` is
        given and stale.
        """
        request = build.approve(
            group_or_name, version, reason=reason, etag=etag, request_id_=request_id
        )
        return await self._view(
            types.ModelVersion,
            self._stubs.approvals.ApproveModelVersion,
            request,
            timeout,
            metadata,
        )

    async def reject(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        reason: str,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version REJECTED (or its approval revoked); ``reason`` is required.

        A production version leaves production in the same change: the previous approved
        production version returns, or it is archived when there is none. Raises
        HasDependents when a PRODUCTION version depends on it, unless ``force``.
        """
        request = build.reject(
            group_or_name, version, reason=reason, etag=etag, request_id_=request_id, force=force
        )
        return await self._view(
            types.ModelVersion, self._stubs.approvals.RejectModelVersion, request, timeout, metadata
        )

    async def list_approvals(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncApprovalsPager:
        """Returns a pager over the approval decisions, oldest first, on one version
        (``("fraud", 3)``, ``"groups/fraud/versions/3"``) or on every version of a group
        (``"fraud"``)."""
        request = build.list_approvals(group_or_name, version, page_size=page_size)
        return await self._list(
            self._stubs.approvals.ListApprovals,
            request,
            lambda page: [types.ApprovalDecision(item) for item in page.approvals],
            timeout,
            metadata,
        )

    async def get_approval_policy(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.ApprovalPolicy:
        """Returns the group's approval policy (the defaults until an admin changes it)."""
        request = build.get_approval_policy(group)
        return await self._view(
            types.ApprovalPolicy,
            self._stubs.approvals.GetApprovalPolicy,
            request,
            timeout,
            metadata,
        )

    async def update_approval_policy(
        self,
        policy: build.ApprovalPolicyLike,
        *,
        update_mask: Sequence[str],
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ApprovalPolicy:
        """Returns the policy after setting the fields named in ``update_mask`` from ``policy``.

        ``policy.name`` says which group's (``groups/fraud/approvalPolicy``, or the group);
        paths are ``required_approvals``, ``allow_self_approval``, ``approver_roles``,
        ``promoter_roles``, ``max_production_versions``, ``protected_aliases`` and
        ``schema_compatibility``. Admins only; a stale ``policy.etag`` raises StaleEtag.
        """
        request = build.update_approval_policy(
            policy, update_mask=update_mask, request_id_=request_id
        )
        return await self._view(
            types.ApprovalPolicy,
            self._stubs.approvals.UpdateApprovalPolicy,
            request,
            timeout,
            metadata,
        )

    # Retention and legal holds

    async def get_retention_policy(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.RetentionPolicy:
        """Returns the group's retention policy (the tenant default, ``inherited``, while it
        has none of its own); with no group, the tenant's default."""
        request = build.get_retention_policy(group)
        return await self._view(
            types.RetentionPolicy,
            self._stubs.retention.GetRetentionPolicy,
            request,
            timeout,
            metadata,
        )

    async def update_retention_policy(
        self,
        policy: build.RetentionPolicyLike,
        *,
        update_mask: Sequence[str],
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.RetentionPolicy:
        """Returns the retention policy after setting the fields named in ``update_mask``.

        ``policy.name`` says whose (``groups/fraud/retentionPolicy``, the group, or empty
        for the tenant default); paths are ``keep_newest``, ``archive_staging_after_days``,
        ``delete_archived_after_days`` and ``artifact_hold_days``. Admins only.
        """
        request = build.update_retention_policy(
            policy, update_mask=update_mask, request_id_=request_id
        )
        return await self._view(
            types.RetentionPolicy,
            self._stubs.retention.UpdateRetentionPolicy,
            request,
            timeout,
            metadata,
        )

    async def plan_retention(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.PlanRetentionResponse:
        """Returns what applying the group's retention policy now would do (``.actions``:
        ARCHIVE, DELETE, or KEEP with what protects the version), changing nothing."""
        request = retention_service_pb2.PlanRetentionRequest(parent=group_name(group))
        return await self._view(
            types.PlanRetentionResponse,
            self._stubs.retention.PlanRetention,
            request,
            timeout,
            metadata,
        )

    async def apply_retention(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.ApplyRetentionResponse:
        """Applies the group's retention policy now; returns the archives and deletes made,
        each logged by the principal ``retention``. Admins only."""
        request = retention_service_pb2.ApplyRetentionRequest(parent=group_name(group))
        return await self._view(
            types.ApplyRetentionResponse,
            self._stubs.retention.ApplyRetention,
            request,
            timeout,
            metadata,
        )

    async def set_legal_hold(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        reason: str,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version under legal hold: nobody can delete it until the hold is
        cleared. Admins only; ``reason`` is required."""
        request = build.set_legal_hold(
            group_or_name, version, reason=reason, request_id_=request_id
        )
        return await self._view(
            types.ModelVersion, self._stubs.retention.SetLegalHold, request, timeout, metadata
        )

    async def clear_legal_hold(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        reason: str,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version with its legal hold cleared. Admins only; ``reason`` is
        required."""
        request = build.clear_legal_hold(
            group_or_name, version, reason=reason, request_id_=request_id
        )
        return await self._view(
            types.ModelVersion, self._stubs.retention.ClearLegalHold, request, timeout, metadata
        )

    # Stages and production

    @overload
    async def transition(
        self,
        name: str,
        stage: build.StageLike,
        /,
        *,
        reason: str = "",
        keep_existing_production: bool = False,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.TransitionModelVersionStageResponse: ...

    @overload
    async def transition(
        self,
        group: str,
        version: int | str,
        stage: build.StageLike,
        /,
        *,
        reason: str = "",
        keep_existing_production: bool = False,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.TransitionModelVersionStageResponse: ...

    async def transition(
        self,
        group_or_name: str,
        version_or_stage: int | str | build.StageLike,
        stage: build.StageLike | None = None,
        /,
        *,
        reason: str = "",
        keep_existing_production: bool = False,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.TransitionModelVersionStageResponse:
        """Returns the version after moving it to ``stage`` (``.model_version``) and the
        versions the move archived (``.archived_versions``).

        The version is ``("fraud", 3, stage)`` or ``("groups/fraud/versions/3", stage)``,
        as :meth:`approve` and :meth:`promote` name it; ``stage`` a
        :class:`~modelyard.Stage` or a name such as ``"staging"``. The lifecycle is NONE ->
        STAGING -> PRODUCTION -> ARCHIVED, NONE|STAGING -> ARCHIVED and ARCHIVED -> STAGING;
        other moves raise InvalidTransition. PRODUCTION needs an APPROVED version
        (VersionNotApproved) and archives the production version it replaces, unless
        ``keep_existing_production`` and the policy allows several (else
        ProductionLimitReached). ARCHIVED raises HasDependents while a PRODUCTION version
        depends on the version, unless ``force`` (with a ``reason``, logged).
        """
        if stage is None:
            name, to = version_name(group_or_name), version_or_stage
        else:
            name, to = version_name(group_or_name, version_or_stage), stage
        request = build.transition(
            name,
            to,
            reason=reason,
            keep_existing_production=keep_existing_production,
            etag=etag,
            request_id_=request_id,
            force=force,
        )
        return await self._view(
            types.TransitionModelVersionStageResponse,
            self._stubs.registry.TransitionModelVersionStage,
            request,
            timeout,
            metadata,
        )

    async def promote(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        reason: str = "",
        keep_existing_production: bool = False,
        etag: str = "",
        force: bool = False,
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version after moving it from STAGING to PRODUCTION (see
        :meth:`transition`); the version it replaces is archived in the same change, which
        raises HasDependents when a PRODUCTION version depends on it, unless ``force``."""
        response = await self.transition(
            version_name(group_or_name, version),
            types.Stage.PRODUCTION,
            reason=reason,
            keep_existing_production=keep_existing_production,
            etag=etag,
            force=force,
            request_id=request_id,
            timeout=timeout,
            metadata=metadata,
        )
        return response.model_version

    async def rollback(
        self,
        group: str,
        *,
        to: int | str | None = None,
        reason: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.RollbackProductionResponse:
        """Returns the version put back in production (``.restored_version``) and the ones
        it replaced, now archived (``.archived_versions``).

        Without ``to``, the version that left production most recently comes back; ``to``
        names another (a number or ``groups/fraud/versions/2``). Raises NoRollbackTarget
        when nothing was in production before, VersionNotApproved when the target is no
        longer APPROVED.
        """
        request = build.rollback(group, to=to, reason=reason, request_id_=request_id)
        return await self._view(
            types.RollbackProductionResponse,
            self._stubs.registry.RollbackProduction,
            request,
            timeout,
            metadata,
        )

    async def compare_schemas(
        self,
        group_or_base: str,
        base: int | str | None = None,
        candidate: int | str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.CompareSchemasResponse:
        """Returns what differs between two versions' schemas and whether each change
        breaks callers: ``("fraud", "champion", 4)`` compares version 4 of fraud with what
        the alias points at; ``("groups/a/versions/1", None, "groups/b/versions/2")`` takes
        full names. ``.backward_compatible`` and ``.full_compatible`` say whether a group
        policy's ``schema_compatibility`` would let the candidate replace the base.
        """
        if base is None:
            if candidate is None:
                raise ValueError("name the candidate to compare with, e.g. ('fraud', 3, 4)")
            names_ = (version_or_alias_name(group_or_base), str(candidate))
        else:
            if candidate is None:
                raise ValueError("name the candidate to compare with, e.g. ('fraud', 3, 4)")
            names_ = (
                version_or_alias_name(group_or_base, base),
                version_or_alias_name(group_or_base, candidate),
            )
        request = build.compare_schemas(*names_)
        return await self._view(
            types.CompareSchemasResponse,
            self._stubs.registry.CompareSchemas,
            request,
            timeout,
            metadata,
        )

    async def follow(
        self, groups: Sequence[str], *, max_staleness: float = DEFAULT_MAX_STALENESS
    ) -> AsyncFollowed:
        """Returns a view of ``groups`` kept current by the event stream, that answers
        ``production()``, ``by_alias()`` and ``get_version()`` from memory while the stream
        has been heard from within ``max_staleness`` seconds, and asks the server
        otherwise; close it (or use ``async with``) when done. See
        :class:`modelyard.aio.AsyncFollowed`."""
        return await AsyncFollowed(self, groups, max_staleness).start()

    async def production_versions(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[types.ModelVersion]:
        """Returns the versions in production, the most recently promoted first (several
        only when the group's policy allows A/B)."""
        pager = await self.list_versions(
            group,
            filter=build.PRODUCTION_FILTER,
            order_by="version desc",
            page_size=build.PRODUCTION_PAGE,
            timeout=timeout,
            metadata=metadata,
        )
        return build.most_recently_promoted([v async for v in pager])

    async def production(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.ModelVersion | None:
        """Returns the version in production (with A/B, the most recently promoted), or None
        when there is none."""
        versions = await self.production_versions(group, timeout=timeout, metadata=metadata)
        return versions[0] if versions else None

    async def latest_approved(
        self, group: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.ModelVersion | None:
        """Returns the highest-numbered APPROVED version, or None when there is none."""
        pager = await self.list_versions(
            group,
            filter=build.APPROVED_FILTER,
            order_by="version desc",
            page_size=1,
            timeout=timeout,
            metadata=metadata,
        )
        async for version in pager:
            return version
        return None

    # Aliases

    async def set_alias(
        self,
        group: str,
        alias: str,
        version: int | str,
        *,
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.Alias:
        """Returns the alias after pointing it at ``version`` (a number or
        ``groups/fraud/versions/3``), creating it if needed.

        Protected aliases (see the policy) only point at APPROVED versions
        (VersionNotApproved) and only move for callers with a promoter role.
        """
        request = build.set_alias(group, alias, version, etag=etag, request_id_=request_id)
        return await self._view(
            types.Alias, self._stubs.registry.SetAlias, request, timeout, metadata
        )

    async def get_alias(
        self,
        group_or_name: str,
        alias: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.Alias:
        """Returns the alias, ``("fraud", "champion")`` or ``"groups/fraud/aliases/champion"``;
        raises AliasNotFound if there is none."""
        request = build.get_alias(group_or_name, alias)
        return await self._view(
            types.Alias, self._stubs.registry.GetAlias, request, timeout, metadata
        )

    async def list_aliases(
        self,
        group: str,
        *,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncAliasesPager:
        """Returns a pager over the group's aliases, by name."""
        request = build.list_aliases(group, page_size=page_size)
        return await self._list(
            self._stubs.registry.ListAliases,
            request,
            lambda page: [types.Alias(item) for item in page.aliases],
            timeout,
            metadata,
        )

    async def delete_alias(
        self,
        group_or_name: str,
        alias: str | None = None,
        *,
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Deletes the alias; returns nothing. The version it pointed at stays."""
        request = build.delete_alias(group_or_name, alias, etag=etag, request_id_=request_id)
        await self._transport.call(
            self._stubs.registry.DeleteAlias, request, timeout=timeout, metadata=metadata
        )

    async def by_alias(
        self,
        group_or_name: str,
        alias: str | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ModelVersion:
        """Returns the version the alias points at; raises AliasNotFound if there is none."""
        request = build.version_by_alias(group_or_name, alias)
        return await self._view(
            types.ModelVersion, self._stubs.registry.GetModelVersion, request, timeout, metadata
        )

    # Audit log

    async def list_audit_events(
        self,
        *,
        resource: str = "",
        actor: str = "",
        actions: Iterable[build.ActionLike] = (),
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        newest_first: bool = False,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncAuditEventsPager:
        """Returns a pager over the audit log entries that match, oldest first by default.

        ``resource`` is a resource name (a group's matches its versions too); ``actions``
        are ``Action`` values or names such as ``"MODEL_VERSION_CREATED"``; times must be
        timezone-aware.
        """
        request = build.list_audit_events(
            resource=resource,
            actor=actor,
            actions=actions,
            start_time=start_time,
            end_time=end_time,
            newest_first=newest_first,
            page_size=page_size,
        )
        return await self._list(
            self._stubs.audit.ListAuditEvents,
            request,
            lambda page: [types.AuditEvent(item) for item in page.audit_events],
            timeout,
            metadata,
        )

    async def verify_audit_log(
        self,
        *,
        full: bool = False,
        checkpoint: types.AuditCheckpoint | audit_service_pb2.AuditCheckpoint | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.VerifyAuditLogResponse:
        """Returns the result of verifying the log (``.ok``, ``.first_broken_seq``,
        ``.first_bad_resource``, ``.problem``): its keyed hash chain, that it extends
        ``checkpoint`` (one :meth:`get_audit_checkpoint` returned earlier), and that replaying
        it gives the stored state. The server goes on from the head it verified last unless
        ``full``."""
        request = audit_service_pb2.VerifyAuditLogRequest(full=full)
        if checkpoint is not None:
            request.checkpoint.CopyFrom(proto_of(checkpoint))
        return await self._view(
            types.VerifyAuditLogResponse,
            self._stubs.audit.VerifyAuditLog,
            request,
            timeout,
            metadata,
        )

    async def get_audit_checkpoint(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.AuditCheckpoint:
        """Returns the log's head signed by the server, once the log verifies: keep it outside
        the registry's database and pass it to :meth:`verify_audit_log` later."""
        request = audit_service_pb2.GetAuditCheckpointRequest()
        return await self._view(
            types.AuditCheckpoint,
            self._stubs.audit.GetAuditCheckpoint,
            request,
            timeout,
            metadata,
        )

    # Tokens

    async def create_token(
        self,
        subject: str,
        *,
        roles: Sequence[str],
        expires: datetime | timedelta | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.CreateTokenResponse:
        """Returns the new token and its ``secret``, which is never shown again.

        ``roles`` are bindings such as ``"viewer"`` or ``"deployer@fraud"``; ``expires`` is
        a timezone-aware moment or a lifetime from now (default: the server's,
        ``--token-expiry-days``). Tenant admins only. A retry after a lost answer may issue
        a second token; ``list_tokens`` shows it, ``revoke_token`` ends it.
        """
        request = build.create_token(subject, roles=roles, expires=expires)
        return await self._view(
            types.CreateTokenResponse, self._stubs.tokens.CreateToken, request, timeout, metadata
        )

    async def list_tokens(
        self,
        *,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncTokensPager:
        """Returns a pager over the tenant's tokens, oldest first, revoked and expired ones
        included; never their secrets. Tenant admins only."""
        request = build.list_tokens(page_size=page_size)
        return await self._list(
            self._stubs.tokens.ListTokens,
            request,
            lambda page: [types.Token(item) for item in page.tokens],
            timeout,
            metadata,
        )

    async def revoke_token(
        self, token: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.Token:
        """Returns the token (``"tk-…"`` or ``"tokens/tk-…"``), revoked: every call that
        presents it fails from the moment this returns. Raises TokenNotFound if there is
        none; revoking twice returns it unchanged. Tenant admins only."""
        request = build.revoke_token(token)
        return await self._view(
            types.Token, self._stubs.tokens.RevokeToken, request, timeout, metadata
        )

    # Webhooks

    async def create_webhook(
        self,
        url: str,
        *,
        secret: str,
        group: str = "",
        actions: Iterable[build.ActionLike] = (),
        description: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.Webhook:
        """Returns the new webhook (without its secret); it receives the events that commit
        after it.

        ``secret`` (16 to 256 characters) keys the HMAC-SHA256 signature of each delivery;
        ``group`` (an id or name) limits it to one group's events, ``actions`` (``Action``
        values or names such as ``"STAGE_CHANGED"``) to those actions. Admins only.
        """
        request = build.create_webhook(
            url,
            secret=secret,
            group=group,
            actions=actions,
            description=description,
            request_id_=request_id,
        )
        return await self._view(
            types.Webhook, self._stubs.webhooks.CreateWebhook, request, timeout, metadata
        )

    async def get_webhook(
        self, webhook: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> types.Webhook:
        """Returns the webhook (``"wh-…"`` or ``"webhooks/wh-…"``); raises WebhookNotFound if
        there is none."""
        request = build.get_webhook(webhook)
        return await self._view(
            types.Webhook, self._stubs.webhooks.GetWebhook, request, timeout, metadata
        )

    async def list_webhooks(
        self,
        *,
        group: str = "",
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncWebhooksPager:
        """Returns a pager over the webhooks, oldest first: one group's with ``group``, else
        every webhook of the tenant."""
        request = build.list_webhooks(group=group, page_size=page_size)
        return await self._list(
            self._stubs.webhooks.ListWebhooks,
            request,
            lambda page: [types.Webhook(item) for item in page.webhooks],
            timeout,
            metadata,
        )

    async def update_webhook(
        self,
        webhook: build.WebhookLike,
        *,
        update_mask: Sequence[str],
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.Webhook:
        """Returns the webhook after setting the fields named in ``update_mask`` from
        ``webhook``.

        ``webhook.name`` says which webhook; paths are ``url``, ``secret`` (rotation),
        ``group``, ``actions`` and ``description``. The cursor stays, so no event is lost or
        sent twice. A stale ``webhook.etag`` raises StaleEtag.
        """
        request = build.update_webhook(webhook, update_mask=update_mask, request_id_=request_id)
        return await self._view(
            types.Webhook, self._stubs.webhooks.UpdateWebhook, request, timeout, metadata
        )

    async def delete_webhook(
        self,
        webhook: str,
        *,
        etag: str = "",
        request_id: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Deletes the webhook and its delivery records; returns nothing.

        Raises StaleEtag if ``etag`` is given and stale.
        """
        request = build.delete_webhook(webhook, etag=etag, request_id_=request_id)
        await self._transport.call(
            self._stubs.webhooks.DeleteWebhook, request, timeout=timeout, metadata=metadata
        )

    async def list_webhook_deliveries(
        self,
        webhook: str,
        *,
        state: build.DeliveryStateLike = types.DeliveryState.UNSPECIFIED,
        page_size: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncWebhookDeliveriesPager:
        """Returns a pager over the webhook's deliveries, newest event first.

        ``state`` is a ``DeliveryState`` value or a name such as ``"failed"``; the default
        lists them all.
        """
        request = build.list_webhook_deliveries(webhook, state=state, page_size=page_size)
        return await self._list(
            self._stubs.webhooks.ListWebhookDeliveries,
            request,
            lambda page: [types.WebhookDelivery(item) for item in page.deliveries],
            timeout,
            metadata,
        )

    async def redeliver(
        self,
        delivery: str,
        seq: int | None = None,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.WebhookDelivery:
        """Returns the delivery, PENDING again with a fresh retry budget:
        ``"webhooks/wh-…/deliveries/42"`` or ``("wh-…", 42)``.

        Raises WebhookDeliveryNotFound if the webhook never had a delivery of that event.
        """
        request = build.redeliver(delivery, seq)
        return await self._view(
            types.WebhookDelivery,
            self._stubs.webhooks.RedeliverWebhookDelivery,
            request,
            timeout,
            metadata,
        )

    # Artifacts

    async def find_missing_blobs(
        self,
        group: str,
        digests: Iterable[tuple[str, int]],
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> list[tuple[str, int]]:
        """Returns the ``(sha256, size)`` blobs among ``digests`` that the group does not hold."""
        request = artifact_service_pb2.FindMissingBlobsRequest(
            parent=group_name(group),
            blob_digests=[artifact_service_pb2.Digest(sha256=s, size_bytes=n) for s, n in digests],
        )
        response = await self._transport.call(
            self._stubs.artifacts.FindMissingBlobs, request, timeout=timeout, metadata=metadata
        )
        return [(d.sha256, d.size_bytes) for d in response.missing_blob_digests]

    async def upload(
        self,
        group: str,
        path: str | Path,
        *,
        progress: Progress | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> int:
        """Uploads to the group the blobs of a file or directory that it lacks, without
        registering anything; returns the bytes sent (0 when the group holds them all).

        :meth:`register` with ``path`` does this, then registers. Each blob's upload resumes
        where it stopped when the connection breaks.
        """
        _, files = await offload(local.scan, Path(path))
        return await self._upload_files(
            group, files, progress=progress, timeout=timeout, metadata=metadata
        )

    async def _upload_files(
        self,
        group: str,
        files: Sequence[local.LocalFile],
        *,
        progress: Progress | None,
        timeout: float | None,
        metadata: Metadata | None,
    ) -> int:
        missing = set(
            await self.find_missing_blobs(
                group, {(f.sha256, f.size) for f in files}, timeout=timeout, metadata=metadata
            )
        )
        blobs = {(f.sha256, f.size): f for f in files if (f.sha256, f.size) in missing}
        tally = local.Tally(sum(size for _, size in blobs), progress)
        tally.add(0)

        async def write(file: local.LocalFile) -> None:
            await self._write_blob(group, file, tally.add, timeout=timeout, metadata=metadata)

        await gathered(write, blobs.values(), local.STREAMS)
        return tally.total

    async def _write_blob(
        self,
        group: str,
        file: local.LocalFile,
        advanced: Callable[[int], None],
        *,
        timeout: float | None,
        metadata: Metadata | None,
    ) -> None:
        name = local.upload_name(group_name(group), uuid.uuid4().hex, file.sha256, file.size)
        call_md = tuple(call_metadata(self._transport.token, metadata))
        offset = 0
        attempt = 0
        reported = [0]  # what this attempt told `advanced`

        async def messages(start: int) -> AsyncIterator[artifact_service_pb2.WriteBlobRequest]:
            source = await offload(local.Source, file.source, start)
            try:
                at = start
                while True:
                    data = await offload(source.read)
                    # A file cut short since it was hashed ends the stream too (the server
                    # then refuses the size) rather than sending empty messages forever.
                    last = not data or at + len(data) >= file.size
                    yield artifact_service_pb2.WriteBlobRequest(
                        resource_name=name, write_offset=at, data=data, finish_write=last
                    )
                    at += len(data)
                    reported[0] += len(data)
                    advanced(len(data))
                    if last:
                        return
            finally:
                await offload(source.close)

        while True:
            attempt += 1
            reported[0] = 0

            try:
                await self._stubs.artifacts.WriteBlob(
                    messages(offset), timeout=timeout or self._transport.timeout, metadata=call_md
                )
                return
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                if not self._transport.retry.should_retry(error, attempt):
                    raise unreachable(
                        error, self.address, self._transport.secure, self._transport.tls
                    ) from None
            status = await self._transport.call(
                self._stubs.artifacts.QueryWriteStatus,
                artifact_service_pb2.QueryWriteStatusRequest(resource_name=name),
                timeout=timeout,
                metadata=metadata,
            )
            if status.complete:
                return
            advanced(status.committed_size - offset - reported[0])  # count what it kept
            offset = status.committed_size

    async def get_artifact_manifest(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        download_urls: bool = False,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> types.ArtifactManifest:
        """Returns the files of a version's artifact held by the registry; raises
        ArtifactNotHeld when the registry records only its uri. With ``download_urls``, each
        file carries a short-lived URL to read it straight from the blob store, where the
        store has them (S3)."""
        request = artifact_service_pb2.GetArtifactManifestRequest(
            name=version_name(group_or_name, version), download_urls=download_urls
        )
        return await self._view(
            types.ArtifactManifest,
            self._stubs.artifacts.GetArtifactManifest,
            request,
            timeout,
            metadata,
        )

    async def download(
        self,
        group_or_name: str,
        version: int | str | None = None,
        *,
        dest: str | Path,
        direct: bool = False,
        progress: Progress | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Path:
        """Downloads a version's artifact (``("fraud", 3)``, an alias's name, …) to ``dest``,
        a new path: a file, or a directory for a directory artifact. Returns ``dest``.

        The bytes go to ``DEST.modelyard-partial`` first; every file's sha256 and size are
        checked against the manifest, and the manifest's against the artifact's digest,
        before it moves into place. A download that broke resumes from what it left there.
        With ``direct``, files come straight from the blob store by short-lived URLs when
        it gives them (S3), checked the same way; otherwise through the registry.
        """
        dest = Path(dest)
        manifest = (
            await self.get_artifact_manifest(
                group_or_name, version, download_urls=direct, timeout=timeout, metadata=metadata
            )
        ).proto
        if local.manifest_digest(manifest.files) != manifest.sha256:
            raise DigestMismatch(
                f"the manifest of {manifest.version} does not hash to its digest {manifest.sha256}",
                reason="DIGEST_MISMATCH",
            )
        partial = await offload(local.prepare_download, dest, manifest)
        tally = local.Tally(sum(f.size_bytes for f in manifest.files), progress)

        async def read(file: artifact_service_pb2.ArtifactFile) -> None:
            target = await offload(local.target_of, partial, manifest, file)
            problem = await self._read_file(manifest.version, file, target, tally, metadata)
            if problem is not None:
                raise DigestMismatch(f"{manifest.version}: {problem}", reason="DIGEST_MISMATCH")

        await gathered(read, manifest.files, local.STREAMS)
        return await offload(local.finish_download, partial, dest)

    async def _read_file(
        self,
        name: str,
        file: artifact_service_pb2.ArtifactFile,
        target: Path,
        tally: local.Tally,
        metadata: Metadata | None,
    ) -> str | None:
        """Downloads one file, continuing what a broken download left; returns what is wrong
        with its bytes, or None."""
        call_md = tuple(call_metadata(self._transport.token, metadata))
        sink = await offload(local.Sink, target, file)
        try:
            tally.add(sink.offset)
            if file.download_url and sink.offset < file.size_bytes:
                await offload(local.fetch, file.download_url, sink, tally)
            attempt = 0
            while sink.offset < file.size_bytes:
                attempt += 1
                before = sink.offset
                request = artifact_service_pb2.ReadArtifactRequest(
                    name=name, path=file.path, read_offset=sink.offset
                )
                try:
                    async for response in self._stubs.artifacts.ReadArtifact(
                        request, metadata=call_md
                    ):
                        await offload(sink.write, response.data)
                        tally.add(len(response.data))
                except grpc.RpcError as rpc_error:
                    error = from_rpc_error(rpc_error)
                    if not self._transport.retry.should_retry(error, attempt):
                        raise unreachable(
                            error, self.address, self._transport.secure, self._transport.tls
                        ) from None
                    continue
                if sink.offset == before:  # the stream ended early and gave nothing
                    break
            return await offload(sink.finish)
        finally:
            await offload(sink.close)

    # Event streams

    def watch(
        self,
        *,
        groups: Iterable[str] = (),
        actions: Iterable[build.ActionLike] = (),
        versions: Iterable[str] = (),
        start_after: int | None = None,
        idle_timeout: float | None = 60.0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncWatch:
        """Returns an async iterator over the log's events in seq order.

        ``async with registry.watch(...) as events``, ``await registry.watch(...)`` and the
        first ``async for`` open the stream (and return once it is established, so "from
        now" means from then).

        ``groups`` are ids or names (empty: the whole tenant, which needs tenant-wide read);
        ``actions`` are ``Action`` values or names such as ``"STAGE_CHANGED"``; ``versions``
        are names ``groups/{group}/versions/{n}``. ``start_after`` is a cursor from an
        earlier watch (``0``: the whole log; None: only events that commit from now on).

        The iterator reconnects by itself, with backoff, when the stream breaks or falls
        behind, and resumes after :attr:`AsyncWatch.cursor`, so each event is handed out
        exactly once; it also reconnects when the stream is silent for ``idle_timeout``
        seconds. ``timeout`` bounds opening the stream (default: the registry's). Raises a
        ModelyardError only for what reconnecting cannot cure, e.g. MissingPermission.
        """
        return pending(
            AsyncWatch(
                self._stubs.registry,
                watch_request(groups, actions, versions, start_after),
                token=self._transport.token,
                metadata=metadata,
                timeout=timeout if timeout is not None else self._transport.timeout,
                idle_timeout=idle_timeout,
            )
        )
