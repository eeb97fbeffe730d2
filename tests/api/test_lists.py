"""Filtering, ordering and keyset pagination of groups and versions."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import grpc
import pytest
from modelyard import Registry, errors
from modelyard.v1 import registry_service_pb2 as rs
from modelyard.v1 import resources_pb2 as pb

from tests.support.factory import ServerFactory
from tests.support.servers import Server, shared_key_file
from tests.support.status import reason_of
from tests.support.stubs import Raw, raw_stubs
from tests.support.versions import register

AUCS = [0.71, 0.95, 0.88, None, 0.93, 0.60, 0.99]


@pytest.fixture
def populated(registry: Registry, unique_group: str) -> str:
    registry.create_group(unique_group)
    for i, auc in enumerate(AUCS):
        metrics = {} if auc is None else {"auc": auc}
        register(
            registry,
            unique_group,
            metrics=metrics,
            tags={"team": "risk" if i % 2 == 0 else "growth"},
        )
    return unique_group


def numbers(registry: Registry, group: str, **query: object) -> list[int]:
    return [v.version for v in registry.list_versions(group, **query)]  # type: ignore[arg-type]


def test_versions_filter_by_metric_and_tag(registry: Registry, populated: str) -> None:
    assert numbers(registry, populated, filter="metrics.auc > 0.9") == [7, 5, 2]
    assert numbers(registry, populated, filter='metrics.auc >= 0.88 AND tags.team = "risk"') == [
        7,
        5,
        3,
    ]
    assert numbers(registry, populated, filter='tags.team = "growth" OR version = 1') == [
        6,
        4,
        2,
        1,
    ]
    assert numbers(registry, populated, filter='NOT tags.team = "risk"') == [6, 4, 2]
    assert numbers(
        registry, populated, filter='tags.team != "risk" AND (version < 3 OR version > 5)'
    ) == [6, 2]
    assert numbers(registry, populated, filter="tags.absent != x") == [7, 6, 5, 4, 3, 2, 1]


def test_versions_filter_by_stage_and_approval_with_or_without_prefix(
    registry: Registry, populated: str
) -> None:
    assert numbers(registry, populated, filter="stage = NONE") == [7, 6, 5, 4, 3, 2, 1]
    assert numbers(registry, populated, filter="stage = STAGE_PRODUCTION") == []
    assert (
        len(numbers(registry, populated, filter="approval_status = PENDING_MANUAL_APPROVAL")) == 7
    )
    assert numbers(
        registry, populated, filter='create_time > "2000-01-01T00:00:00Z" AND version <= 2'
    ) == [2, 1]
    assert numbers(registry, populated, filter='create_time < "2000-01-01T00:00:00Z"') == []


def test_versions_order_by_metric_puts_versions_without_it_last(
    registry: Registry, populated: str
) -> None:
    assert numbers(registry, populated, order_by="metrics.auc desc") == [7, 2, 5, 3, 1, 6, 4]
    assert numbers(registry, populated, order_by="metrics.auc") == [6, 1, 3, 5, 2, 7, 4]
    assert numbers(registry, populated, order_by="version asc") == [1, 2, 3, 4, 5, 6, 7]


def test_pages_resume_exactly_where_the_last_ended(registry: Registry, populated: str) -> None:
    for order in ["", "version asc", "metrics.auc desc", "metrics.auc", "create_time desc"]:
        whole = numbers(registry, populated, order_by=order, page_size=100)
        paged = numbers(registry, populated, order_by=order, page_size=2)
        assert paged == whole and len(whole) == 7, order
    pages = list(registry.list_versions(populated, page_size=3).pages)
    assert [len(p.model_versions) for p in pages] == [3, 3, 1]
    assert pages[-1].next_page_token == ""


def test_a_page_token_only_works_for_its_own_query(raw: Raw, populated: str) -> None:
    first = raw.registry.ListModelVersions(
        rs.ListModelVersionsRequest(parent=f"groups/{populated}", page_size=2),
        metadata=raw.metadata,
    )
    assert first.next_page_token
    for other in [
        rs.ListModelVersionsRequest(
            parent=f"groups/{populated}", page_token=first.next_page_token, order_by="metrics.auc"
        ),
        rs.ListModelVersionsRequest(
            parent=f"groups/{populated}", page_token=first.next_page_token, filter="version > 1"
        ),
        rs.ListModelVersionsRequest(parent=f"groups/{populated}", page_token="not-a-token"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            raw.registry.ListModelVersions(other, metadata=raw.metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert reason_of(caught.value) == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("metrics.auc > high", "compares with a number"),
        ("stage = LIVE", "not a value of 'stage'"),
        ("colour = red", "unknown field 'colour'"),
        ("stage > NONE", "supports only = and !="),
        ("version = 1 AND", "ends too early"),
        ("version = 1 version = 2", "unexpected"),
        ('create_time > "yesterday"', "RFC 3339"),
        ("(version = 1", "ends too early"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(
    registry: Registry, populated: str, query: str, fragment: str
) -> None:
    with pytest.raises(errors.InvalidFilter) as caught:
        numbers(registry, populated, filter=query)
    assert fragment in caught.value.message


def test_a_bad_order_by_says_what_is_allowed(registry: Registry, populated: str) -> None:
    with pytest.raises(errors.InvalidOrderBy) as caught:
        numbers(registry, populated, order_by="stage")
    assert "metrics.<key>" in caught.value.message
    with pytest.raises(errors.InvalidOrderBy):
        numbers(registry, populated, order_by="version sideways")


def test_versions_of_every_group_with_dash(registry: Registry, unique_group: str) -> None:
    registry.create_group(unique_group)
    registry.create_group(unique_group + "-2")
    register(registry, unique_group, tags={"marker": unique_group})
    register(registry, unique_group + "-2", tags={"marker": unique_group})
    found = {
        v.name
        for v in registry.list_versions("-", filter=f'tags.marker = "{unique_group}"', page_size=1)
    }
    assert found == {f"groups/{unique_group}/versions/1", f"groups/{unique_group}-2/versions/1"}


def test_groups_filter_and_order(registry: Registry, unique_group: str) -> None:
    for suffix, team in [("a", "risk"), ("b", "growth"), ("c", "risk")]:
        registry.create_group(f"{unique_group}-{suffix}", tags={"team": team, "run": unique_group})
    names = [
        g.name
        for g in registry.list_groups(filter=f'tags.run = "{unique_group}" AND tags.team = "risk"')
    ]
    assert names == [f"groups/{unique_group}-a", f"groups/{unique_group}-c"]
    newest_first = [
        g.name
        for g in registry.list_groups(
            filter=f'tags.run = "{unique_group}"', order_by="create_time desc", page_size=1
        )
    ]
    assert newest_first == [f"groups/{unique_group}-{s}" for s in "cba"]
    assert [g.name for g in registry.list_groups(filter=f'name = "groups/{unique_group}-b"')] == [
        f"groups/{unique_group}-b"
    ]


def test_large_versions_come_in_pages_that_fit_in_a_message(
    registry: Registry, unique_group: str
) -> None:
    registry.create_group(unique_group)
    card = pb.ModelCard(intended_use="x" * 60_000, limitations="y" * 5_000)
    for _ in range(60):  # about 3.9 MB in all: over one gRPC message's 4 MiB limit with overhead
        register(registry, unique_group, model_card=card)
    pages = list(registry.list_versions(unique_group, page_size=1000).pages)
    assert len(pages) >= 2
    assert sum(len(p.model_versions) for p in pages) == 60
    assert all(p.ByteSize() < 3.5 * 1024 * 1024 for p in pages)
    audit = list(
        registry.list_audit_events(resource=f"groups/{unique_group}", page_size=1000).pages
    )
    assert len(audit) >= 2
    assert sum(len(p.audit_events) for p in audit) == 61


def _group_pages(raw: Raw, token: str = "") -> rs.ListModelGroupsResponse:
    return raw.registry.ListModelGroups(
        rs.ListModelGroupsRequest(page_size=1, page_token=token), metadata=raw.metadata
    )


def _refused_token(raw: Raw, token: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _group_pages(raw, token)
    return caught.value


def _unpadded(raw_token: bytes) -> str:
    return base64.urlsafe_b64encode(raw_token).decode().rstrip("=")


def test_a_page_token_that_was_altered_cut_or_signed_elsewhere_is_refused(
    sqlite_server: Server, unique_group: str
) -> None:
    """Tokens are signed by the server: a caller can neither make one up nor edit one, and a
    token of another tenant's query is not one of theirs."""
    with raw_stubs(sqlite_server.address, sqlite_server.token) as raw:
        for suffix in ("a", "b", "c"):
            raw.registry.CreateModelGroup(
                rs.CreateModelGroupRequest(model_group_id=f"{unique_group}-{suffix}"),
                metadata=raw.metadata,
            )
        genuine = _group_pages(raw).next_page_token
        assert _group_pages(raw, genuine).model_groups  # the genuine one works
        decoded = base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4))
        tag, payload = decoded[:16], decoded[16:]
        altered = payload.replace(b'"', b"'", 1) if b'"' in payload else payload + b" "
        forged = {
            "cut short": genuine[:-3],
            "half": genuine[: len(genuine) // 2],
            "key altered": _unpadded(tag + altered),
            "tag altered": _unpadded(bytes([tag[0] ^ 1]) + tag[1:] + payload),
            "signed with another key": _unpadded(os.urandom(16) + payload),
            "unsigned, as tokens were": _unpadded(payload),
            "not base64": "%%%",
        }
        for case, token in forged.items():
            error = _refused_token(raw, token)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, case
            assert reason_of(error) == "INVALID_PAGE_TOKEN", case
            assert "start again from the first page" in (error.details() or ""), case
    elsewhere = sqlite_server.mint_token("ann", "viewer", tenant=f"t-{unique_group}")
    with raw_stubs(sqlite_server.address, elsewhere) as theirs:
        assert reason_of(_refused_token(theirs, genuine)) == "INVALID_PAGE_TOKEN"


def test_a_page_token_stays_valid_across_a_restart(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """The key comes from the key file, not from the process: the next page of a listing
    still comes after the server restarted (or from another worker with the same file)."""
    data_dir = tmp_path / "data"
    with (
        server_factory("sqlite", data_dir=data_dir) as first,
        raw_stubs(first.address, first.token) as raw,
    ):
        for group in ("a-one", "a-two", "a-three"):
            raw.registry.CreateModelGroup(
                rs.CreateModelGroupRequest(model_group_id=group), metadata=raw.metadata
            )
        page = _group_pages(raw)
        expected = _group_pages(raw, page.next_page_token).model_groups
    with (
        server_factory("sqlite", data_dir=data_dir) as second,
        raw_stubs(second.address, second.token) as raw,
    ):
        assert _group_pages(raw, page.next_page_token).model_groups == expected


def test_replicas_that_share_the_key_file_accept_each_others_page_tokens(
    server_factory: ServerFactory, postgres_database: str, tmp_path: Path
) -> None:
    key_file = shared_key_file(tmp_path)
    replicas = [
        server_factory("postgres", database_url=postgres_database, key_file=key_file)
        for _ in range(2)
    ]
    with replicas[0] as one, replicas[1] as other:
        with raw_stubs(one.address, one.token) as raw:
            for group in ("r-one", "r-two", "r-three"):
                raw.registry.CreateModelGroup(
                    rs.CreateModelGroupRequest(model_group_id=group), metadata=raw.metadata
                )
            page = _group_pages(raw)
            expected = _group_pages(raw, page.next_page_token).model_groups
        with raw_stubs(other.address, one.token) as raw:
            assert _group_pages(raw, page.next_page_token).model_groups == expected
