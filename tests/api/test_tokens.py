"""Token lifecycle through TokenService: issued with an expiry, listed without secrets,
revoked at once, and each issue and revocation in the audit log."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import json_format
from modelyard import Registry, errors, types

from tests.support.factory import ServerFactory
from tests.support.servers import Server
from tests.support.versions import register


def exposed(*messages: types.Token | types.AuditEvent) -> str:
    """Returns everything the messages show, as one string to search for secrets."""
    return json.dumps([json_format.MessageToDict(m._pb) for m in messages])


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_an_admin_issues_a_token_that_works_at_once_and_shows_its_secret_only_then(
    server: Server, unique_group: str
) -> None:
    with Registry(server.address, token=server.token) as admin:
        created = admin.create_token("deploy-bot", roles=["deployer", f"viewer@{unique_group}"])
        assert created.secret.startswith("myd_")
        token = created.token
        assert token.name.startswith("tokens/tk-")
        assert token.subject == "deploy-bot"
        assert list(token.roles) == ["deployer", f"viewer@{unique_group}"]
        assert token.created_by == "admin" and token.revoke_time is None
        with Registry(server.address, token=created.secret) as bot:
            list(bot.list_groups())  # authenticated as deploy-bot
            with pytest.raises(errors.MissingPermission):
                bot.create_group(unique_group)
        listed = {t.name: t for t in admin.list_tokens()}
    shown = listed[token.name]
    assert shown.subject == "deploy-bot" and shown.last_use_time is not None
    everything = exposed(*listed.values())
    assert created.secret not in everything and digest(created.secret) not in everything


def test_a_token_expires_after_the_servers_default_lifetime_unless_asked_otherwise(
    server: Server,
) -> None:
    now = datetime.now(UTC)
    with Registry(server.address, token=server.token) as admin:
        default = admin.create_token("ann", roles=["viewer"]).token
        short = admin.create_token("ann", roles=["viewer"], expires=timedelta(hours=12)).token
        until = admin.create_token("ann", roles=["viewer"], expires=now + timedelta(days=3)).token
    assert default.expire_time is not None and short.expire_time is not None
    assert abs(default.expire_time - (now + timedelta(days=90))) < timedelta(minutes=1)
    assert abs(short.expire_time - (now + timedelta(hours=12))) < timedelta(minutes=1)
    assert until.expire_time == now + timedelta(days=3)


def test_with_a_default_of_0_days_tokens_issued_without_an_expiry_never_expire(
    server_factory: ServerFactory,
) -> None:
    with (
        server_factory(token_expiry_days="0") as own,
        Registry(own.address, token=own.token) as admin,
    ):
        assert admin.create_token("ann", roles=["viewer"]).token.expire_time is None
        listed = list(admin.list_tokens())
    first = next(t for t in listed if t.subject == "admin")
    assert first.expire_time is None, "the first admin token never expires"


def test_an_expired_token_is_refused_saying_when_it_expired(server: Server) -> None:
    with Registry(server.address, token=server.token) as admin:
        created = admin.create_token("brief", roles=["viewer"], expires=timedelta(seconds=1))
    with Registry(server.address, token=created.secret) as brief:
        brief.list_groups()
        time.sleep(1.2)
        with pytest.raises(errors.TokenExpired) as refused:
            brief.list_groups()
    expiry = created.token.expire_time
    assert expiry is not None
    assert f"expired at {expiry.strftime('%Y-%m-%dT%H:%M:%S')}Z" in refused.value.message
    assert created.secret not in str(refused.value)


def test_a_revoked_token_fails_on_the_very_next_call(server: Server) -> None:
    with Registry(server.address, token=server.token) as admin:
        created = admin.create_token("leaver", roles=["viewer"])
        with Registry(server.address, token=created.secret) as leaver:
            leaver.list_groups()
            revoked = admin.revoke_token(created.token.name)
            with pytest.raises(errors.TokenRevoked) as refused:
                leaver.list_groups()
        assert revoked.revoke_time is not None and revoked.revoked_by == "admin"
        assert "was revoked at" in refused.value.message
        assert created.secret not in str(refused.value)
        # Revoking again changes nothing; an unknown token is NOT_FOUND.
        again = admin.revoke_token(created.token.name.removeprefix("tokens/"))
        assert again.revoke_time == revoked.revoke_time
        with pytest.raises(errors.TokenNotFound):
            admin.revoke_token("tk-0000000000000000")
        with pytest.raises(errors.InvalidField):
            admin.revoke_token("tokens/not-a-token")


def test_issuing_and_revoking_are_audit_entries_that_never_hold_the_secret(
    server: Server,
) -> None:
    with Registry(server.address, token=server.token) as admin:
        created = admin.create_token("audited", roles=["approver"])
        admin.revoke_token(created.token.name)
        entries = list(admin.list_audit_events(resource=created.token.name))
    assert [(e.action, e.actor) for e in entries] == [
        (types.Action.TOKEN_CREATED, "admin"),
        (types.Action.TOKEN_REVOKED, "admin"),
    ]
    everything = exposed(*entries)
    assert created.secret not in everything and digest(created.secret) not in everything
    assert '"subject": "audited"' in everything


def test_only_an_admin_of_the_whole_tenant_manages_tokens(
    server: Server, unique_group: str
) -> None:
    with Registry(server.address, token=server.token) as admin:
        group_admin = admin.create_token("gina", roles=[f"admin@{unique_group}"]).secret
        viewer = admin.create_token("vic", roles=["viewer"]).secret
        victim = next(iter(admin.list_tokens())).name
    for secret in (group_admin, viewer):
        with Registry(server.address, token=secret) as caller:
            with pytest.raises(errors.MissingPermission):
                caller.create_token("eve", roles=["admin"])
            with pytest.raises(errors.MissingPermission):
                list(caller.list_tokens())
            with pytest.raises(errors.MissingPermission):
                caller.revoke_token(victim)


def test_a_token_request_that_cannot_be_issued_names_every_field_to_fix(
    sqlite_server: Server,
) -> None:
    with Registry(sqlite_server.address, token=sqlite_server.token) as admin:
        with pytest.raises(errors.InvalidField) as refused:
            admin.create_token(" ", roles=["superuser", "admin@"])
        fields = dict(refused.value.field_violations)
        assert set(fields) == {"token.subject", "token.roles[0]", "token.roles[1]"}
        assert "unknown role 'superuser'" in fields["token.roles[0]"]
        with pytest.raises(errors.InvalidField) as refused:
            admin.create_token("ann", roles=[], expires=datetime(2020, 1, 1, tzinfo=UTC))
        fields = dict(refused.value.field_violations)
        assert set(fields) == {"token.roles", "token.expire_time"}
        assert "is not in the future" in fields["token.expire_time"]


def test_tokens_are_listed_oldest_first_a_page_at_a_time(server_factory: ServerFactory) -> None:
    with (
        server_factory() as own,
        Registry(own.address, token=own.token) as admin,
    ):
        for subject in ("one", "two", "three", "four"):
            admin.create_token(subject, roles=["viewer"])
        pages = [[t.subject for t in page.tokens] for page in admin.list_tokens(page_size=2).pages]
    assert pages == [["admin", "one"], ["two", "three"], ["four"]]


def test_a_source_that_fails_too_often_is_refused_without_hurting_other_sources(
    server_factory: ServerFactory,
) -> None:
    # localhost: IPv4 and IPv6 loopback, two source addresses on one machine.
    with server_factory(
        address="localhost:0", auth_failure_limit="3", auth_failure_window_seconds="60"
    ) as own:
        with Registry(f"127.0.0.1:{own.port}", token="myd_guessed", max_attempts=1) as guesser:
            for _ in range(3):
                with pytest.raises(errors.Unauthenticated) as failed:
                    guesser.list_groups()
                assert failed.value.reason == "UNAUTHENTICATED"
            for _ in range(5):
                with pytest.raises(errors.TooManyFailedAttempts) as throttled:
                    guesser.list_groups()
        wait = int(throttled.value.metadata["retry_after_seconds"])
        assert 0 < wait <= 60
        assert f"retry after {wait} s" in throttled.value.message
        # The source is refused before its token is looked at: even a valid one.
        with (
            Registry(f"127.0.0.1:{own.port}", token=own.token) as same_source,
            pytest.raises(errors.TooManyFailedAttempts),
        ):
            same_source.list_groups()
        with Registry(f"[::1]:{own.port}", token=own.token) as elsewhere:
            list(elsewhere.list_groups())
        warnings = [
            line
            for line in own.log_file.read_text().splitlines()
            if "refusing authentication from 127.0.0.1" in line
        ]
    assert len(warnings) == 1, "one line says a source is throttled, not one per attempt"
    assert "WARNING" in warnings[0] and "3 failed attempts within 60 s" in warnings[0]


def test_a_throttled_source_may_try_again_once_its_window_has_passed(
    server_factory: ServerFactory,
) -> None:
    with server_factory(auth_failure_limit="2", auth_failure_window_seconds="1") as own:
        with Registry(own.address, token="myd_guessed", max_attempts=1) as guesser:
            for _ in range(2):
                with pytest.raises(errors.Unauthenticated):
                    guesser.list_groups()
            with pytest.raises(errors.TooManyFailedAttempts):
                guesser.list_groups()
        time.sleep(1.1)
        with Registry(own.address, token=own.token) as admin:
            list(admin.list_groups())


def test_a_role_bound_to_a_deleted_group_grants_nothing_on_a_new_group_of_that_id(
    server: Server, unique_group: str
) -> None:
    with Registry(server.address, token=server.token) as admin:
        admin.create_group(unique_group)
        created = admin.create_token("bot", roles=["viewer", f"contributor@{unique_group}"])
        with Registry(server.address, token=created.secret) as bot:
            register(bot, unique_group)  # the binding works while the group lives
            admin.delete_group(unique_group, force=True)
            admin.create_group(unique_group)  # someone else's group, same id
            with pytest.raises(errors.MissingPermission):
                register(bot, unique_group)
            assert bot.get_group(unique_group).name == f"groups/{unique_group}"  # viewer
        [shown] = [t for t in admin.list_tokens() if t.name == created.token.name]
        assert list(shown.roles) == ["viewer"]
        deleted = [
            e
            for e in admin.list_audit_events(resource=f"groups/{unique_group}")
            if e.action == types.Action.MODEL_GROUP_DELETED
        ]
        [change] = [r for r in deleted[-1].related if r.resource == created.token.name]
        assert change.before is not None and change.after is not None
        assert change.before["roles"] == ["contributor@" + unique_group, "viewer"]
        assert change.after["roles"] == ["viewer"]
