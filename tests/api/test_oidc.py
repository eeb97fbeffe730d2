"""JWTs from an identity provider: verified against its JWKS (served on loopback by the
test, with keys the test generates), beside the server's own opaque tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import jwt
import pytest
from modelyard import Action, ModelGroupNotFound, PermissionDenied, Registry, Unauthenticated
from modelyard.v1 import registry_service_pb2 as rs

from tests.support.factory import ServerFactory
from tests.support.idp import (
    AUDIENCE,
    IdentityProvider,
    SigningKey,
    hs256_with,
    identity_provider,
    unsigned,
)
from tests.support.inprocess import SetupError
from tests.support.servers import Server
from tests.support.stubs import raw_stubs


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with identity_provider("RS256", "ES256", "EdDSA") as provider:
        yield provider


@pytest.fixture(scope="module")
def oidc_server(server_factory: ServerFactory, idp: IdentityProvider) -> Iterator[Server]:
    """A server that trusts `idp` (keys refetched at most every 30 s, the default)."""
    with server_factory("sqlite", **idp.settings()) as server:
        yield server


def refusal(server: Server, token: str) -> str:
    """Returns the message of the UNAUTHENTICATED error a call with the token gets."""
    with Registry(server.address, token=token) as client, pytest.raises(Unauthenticated) as e:
        client.list_groups()
    assert e.value.reason == "UNAUTHENTICATED"
    return e.value.message


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_jwt_works_through_the_sdk_with_the_roles_it_names(
    oidc_server: Server, idp: IdentityProvider, unique_group: str, alg: str
) -> None:
    key = next(k for k in idp.keys if k.alg == alg)
    token = idp.token(f"ann-{alg}", "contributor", key=key)
    with Registry(oidc_server.address, token=token) as ann:
        group = ann.create_group(unique_group)
        assert [g.name for g in ann.list_groups() if g.name == group.name] == [group.name]
        with pytest.raises(PermissionDenied, match=f"'ann-{alg}' lacks the 'admin' permission"):
            ann.delete_group(group.name)


def test_a_role_bound_to_a_group_grants_it_on_that_group_only(
    oidc_server: Server, idp: IdentityProvider, unique_group: str
) -> None:
    other = unique_group + "-other"
    with Registry(oidc_server.address, token=oidc_server.token) as admin:
        admin.create_group(unique_group)
        admin.create_group(other)
    token = idp.token("viv", f"viewer@{unique_group}")
    with Registry(oidc_server.address, token=token) as viv:
        assert viv.get_group(f"groups/{unique_group}").name == f"groups/{unique_group}"
        with pytest.raises(PermissionDenied):
            viv.get_group(f"groups/{other}")


def test_a_jwt_without_the_roles_claim_may_do_nothing(
    oidc_server: Server, idp: IdentityProvider
) -> None:
    token = idp.token("nobody", modelyard_roles=None)
    lacks = pytest.raises(PermissionDenied, match="'nobody' lacks the 'read' permission")
    with Registry(oidc_server.address, token=token) as nobody, lacks:
        nobody.list_groups()


def test_a_role_the_registry_does_not_know_refuses_the_token(
    oidc_server: Server, idp: IdentityProvider
) -> None:
    said = refusal(oidc_server, idp.token("ann", "viewer", "superuser"))
    assert "'modelyard_roles' claim: unknown role 'superuser'" in said
    said = refusal(oidc_server, idp.token("ann", "admin@"))
    assert "'admin@' binds the role to no valid group" in said


def test_opaque_tokens_keep_working_beside_jwts(
    oidc_server: Server, idp: IdentityProvider, unique_group: str
) -> None:
    opaque = oidc_server.mint_token("olga", "viewer")
    with Registry(oidc_server.address, token=oidc_server.token) as admin:
        admin.create_group(unique_group)
    for token in (opaque, idp.token("jim", "viewer"), oidc_server.token):
        with Registry(oidc_server.address, token=token) as client:
            assert client.get_group(f"groups/{unique_group}").name == f"groups/{unique_group}"
    assert "not known to this server" in refusal(oidc_server, "myd_not-a-token")


def test_the_audit_log_records_the_jwt_subject_as_the_actor(
    oidc_server: Server, idp: IdentityProvider, unique_group: str
) -> None:
    with Registry(oidc_server.address, token=idp.token("carol@example.com", "admin")) as carol:
        carol.create_group(unique_group)
    with Registry(oidc_server.address, token=oidc_server.token) as admin:
        trail = list(admin.list_audit_events(resource=f"groups/{unique_group}"))
    assert [(e.action, e.actor) for e in trail] == [
        (Action.MODEL_GROUP_CREATED, "carol@example.com")
    ]


def now() -> int:
    return int(time.time())


def test_each_wrong_token_is_unauthenticated_saying_what_was_wrong(
    oidc_server: Server, idp: IdentityProvider
) -> None:
    rsa = idp.keys[0]
    stranger = SigningKey.generate(rsa.kid, "RS256")  # same key id, another key
    expired = now() - 3600
    later = now() + 3600
    claims = idp.claims("ann", "viewer")
    cases = {
        "wrong issuer": (
            idp.token(iss="https://idp.example"),
            "wrong issuer: it was issued by 'https://idp.example', this registry trusts "
            f"'{idp.issuer}'",
        ),
        "wrong audience": (
            idp.token(aud="another-app"),
            f"wrong audience: it is for 'another-app', this registry is '{AUDIENCE}'",
        ),
        "expired": (
            idp.token(exp=expired),
            f"it expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expired))}",
        ),
        "not yet valid": (
            idp.token(nbf=later),
            f"it is not valid before {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(later))}",
        ),
        "issued in the future": (idp.token(iat=later), "it was issued in the future"),
        "no expiry": (idp.token(exp=None), "it has no 'exp' claim"),
        "bad signature": (
            idp.token(key=stranger),
            f"bad signature: key '{rsa.kid}' did not sign it",
        ),
        "unknown kid": (
            idp.token(key=SigningKey.generate("nobody-knows-me", "RS256")),
            "unknown key id 'nobody-knows-me': the identity provider publishes no such key",
        ),
        "alg none": (
            unsigned({"alg": "none", "typ": "JWT", "kid": rsa.kid}, claims) + ".",
            "it is signed with alg 'none'; this server accepts ES256, EdDSA, RS256",
        ),
        "HS256 with the public key": (
            hs256_with(rsa.public_pem(), {"typ": "JWT", "kid": rsa.kid}, claims),
            "it is signed with alg 'HS256'; this server accepts ES256, EdDSA, RS256",
        ),
        "no algorithm": ("e30.e30.", "its header names no signature algorithm (alg)"),
        "not a JWT": ("bm90.YS1qd3Q.c2ln", "it is not a well-formed JWT"),
    }
    for case, (token, expected) in cases.items():
        said = refusal(oidc_server, token)
        assert said.startswith("the bearer JWT was refused: "), (case, said)
        assert expected in said, (case, said)
        assert token not in said and token.split(".")[1] not in said, case


def test_hostile_tokens_are_unauthenticated_never_internal(
    oidc_server: Server, idp: IdentityProvider
) -> None:
    rsa, ec = idp.keys[0], idp.keys[1]
    claims = idp.claims("ann", "viewer")
    header = {"typ": "JWT", "kid": rsa.kid, "alg": "RS256"}
    hostile = {
        "alg is a list": unsigned({**header, "alg": ["RS256"]}, claims) + ".c2ln",
        "kid is an object": unsigned({**header, "kid": {"k": 1}}, claims) + ".c2ln",
        "header is a list": "WzFd." + unsigned(header, claims).split(".")[1] + ".c2ln",
        "payload is a list": unsigned(header, claims).split(".")[0] + ".WzFd.c2ln",
        "garbage signature": unsigned(header, claims) + ".c2ln",
        "ES256 signature of the wrong length": unsigned(
            {**header, "alg": "ES256", "kid": ec.kid}, claims
        )
        + ".c2ln",
        "RS256 header on an EC key": unsigned({**header, "kid": ec.kid}, claims) + ".c2ln",
        "exp is a word": idp.token(exp="soon"),
        "subject is a number": idp.token(sub=42),
        "roles are an object": idp.token(modelyard_roles={"admin": True}),
        "audience is a number": idp.token(aud=7),
        "issuer is a list": idp.token(iss=[idp.issuer]),
    }
    for case, token in hostile.items():
        refused = pytest.raises(Unauthenticated, match="the bearer JWT was refused: ")
        with Registry(oidc_server.address, token=token) as client, refused:
            client.list_groups()
            raise AssertionError(case)
    # Signed by the provider, so trusted, however far away it expires.
    with Registry(oidc_server.address, token=idp.token("far", "viewer", exp=10**30)) as client:
        client.list_groups()


def test_a_flood_of_unknown_key_ids_asks_the_provider_at_most_once(
    oidc_server: Server, idp: IdentityProvider
) -> None:
    with Registry(oidc_server.address, token=idp.token("ann", "viewer")) as client:
        client.list_groups()  # the keys are known
    asked = idp.jwks_requests
    bogus = [SigningKey(f"bogus-{n}", "RS256", idp.keys[0].private) for n in range(40)]
    with ThreadPoolExecutor(8) as callers:  # at once, as a flood would come
        said = list(callers.map(lambda key: refusal(oidc_server, idp.token(key=key)), bogus))
    assert all("unknown key id 'bogus-" in s for s in said)
    # At most one refetch every --oidc-refetch-seconds (30 s here).
    assert idp.jwks_requests - asked <= 1


def test_a_key_the_provider_rotates_in_is_fetched_and_one_it_withdrew_stops_working(
    server_factory: ServerFactory,
) -> None:
    with (
        identity_provider("RS256") as idp,
        server_factory("sqlite", **idp.settings(refetch_seconds="0.2")) as server,
    ):
        old = idp.keys[0]
        with Registry(server.address, token=idp.token("ann", "viewer")) as client:
            client.list_groups()
        new = SigningKey.generate("rotated-in", "ES256")
        idp.keys = [new]
        time.sleep(0.3)
        asked = idp.jwks_requests
        with Registry(server.address, token=idp.token("ann", "viewer", key=new)) as client:
            client.list_groups()
        assert idp.jwks_requests == asked + 1
        logged = server.log_file.read_text()
        assert f"trusting the identity provider's keys rotated-in from {idp.jwks_url}" in logged
        time.sleep(0.3)
        said = refusal(server, idp.token("bob", "viewer", key=old))
        assert f"unknown key id '{old.kid}'" in said


def test_keys_are_fetched_again_once_their_max_age_is_over(
    server_factory: ServerFactory,
) -> None:
    """A key the provider withdrew stops working once the JWKS's Cache-Control max-age is
    over, without waiting for a token that names an unknown key."""
    successor = SigningKey.generate("successor", "RS256")
    with identity_provider("RS256") as idp:
        idp.max_age = 1  # before the server's first fetch
        withdrawn = idp.keys[0]
        with server_factory("sqlite", **idp.settings(refetch_seconds="0.2")) as server:
            with Registry(server.address, token=idp.token("ann", "viewer")) as client:
                client.list_groups()  # the keys are known
            asked = idp.jwks_requests
            idp.keys = [successor]
            token = idp.token("bob", "viewer", key=withdrawn)
            with Registry(server.address, token=token) as client:
                client.list_groups()  # within max-age, or served while it is refreshed
            deadline = time.monotonic() + 10
            said = ""
            while "unknown key id" not in said and time.monotonic() < deadline:
                time.sleep(0.2)
                token = idp.token(f"carl-{time.monotonic()}", "viewer", key=withdrawn)
                with Registry(server.address, token=token) as client:
                    try:
                        client.list_groups()
                    except Unauthenticated as error:
                        said = error.message
            assert f"unknown key id '{withdrawn.kid}'" in said
            assert idp.jwks_requests > asked


def test_known_keys_keep_serving_while_the_provider_is_down(
    server_factory: ServerFactory,
) -> None:
    with (
        identity_provider("ES256") as idp,
        server_factory("sqlite", **idp.settings(refetch_seconds="0.2")) as server,
    ):
        with Registry(server.address, token=idp.token("ann", "viewer")) as client:
            client.list_groups()
        idp.down = True
        time.sleep(0.3)
        unknown = SigningKey.generate("new-while-down", "ES256")
        assert "unknown key id" in refusal(server, idp.token(key=unknown))
        # Another token (so not one remembered), signed by the key known before the outage.
        with Registry(server.address, token=idp.token("bob", "viewer")) as client:
            client.list_groups()


def test_no_known_key_is_unavailable_until_the_provider_answers(
    server_factory: ServerFactory,
) -> None:
    with identity_provider("RS256") as idp:
        idp.down = True
        with server_factory("sqlite", **idp.settings(refetch_seconds="0.2")) as server:
            token = idp.token("ann", "viewer")
            with raw_stubs(server.address, token) as raw, pytest.raises(grpc.RpcError) as e:
                raw.registry.ListModelGroups(rs.ListModelGroupsRequest(), metadata=raw.metadata)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "the identity provider's keys are not known yet" in str(e.value.details())
            assert "HTTP 503" in str(e.value.details())
            logged = server.log_file.read_text()
            assert f"cannot fetch the identity provider's keys: {idp.issuer}/.well-known" in logged
            idp.down = False
            time.sleep(0.3)
            with Registry(server.address, token=token) as client:
                client.list_groups()


def test_a_tenant_claim_keeps_tenants_apart(
    server_factory: ServerFactory, unique_group: str
) -> None:
    with (
        identity_provider("RS256") as idp,
        server_factory("sqlite", **idp.settings(tenant_claim="org")) as server,
    ):
        acme = idp.token("ann", "admin", org="acme")
        globex = idp.token("ann", "admin", org="globex")
        with Registry(server.address, token=acme) as client:
            client.create_group(unique_group)
        with Registry(server.address, token=globex) as client:
            assert [g.name for g in client.list_groups()] == []
            with pytest.raises(ModelGroupNotFound):
                client.get_group(f"groups/{unique_group}")
            client.create_group(unique_group)  # the same id, in a tenant of its own
        with Registry(server.address, token=server.token) as default_admin:
            assert [g.name for g in default_admin.list_groups()] == []
        said = refusal(server, idp.token("ann", "admin"))
        assert "its 'org' claim must be a non-empty string" in said


def test_claims_may_have_other_names(server_factory: ServerFactory, unique_group: str) -> None:
    with (
        identity_provider("RS256") as idp,
        server_factory(
            "sqlite", **idp.settings(subject_claim="email", roles_claim="groups")
        ) as server,
    ):
        token = idp.token(email="dee@example.com", groups="contributor viewer")
        with Registry(server.address, token=token) as dee:
            dee.create_group(unique_group)
        with Registry(server.address, token=server.token) as admin:
            trail = list(admin.list_audit_events(resource=f"groups/{unique_group}"))
        assert [e.actor for e in trail] == ["dee@example.com"]


# Settings that trust an https provider, for the cases that change one thing in them.
HTTPS = {"oidc_issuer": "https://idp.example", "oidc_audience": "modelyard"}
AUDIENCE_FLAG = "--oidc-audience (MODELYARD_OIDC_AUDIENCE)"
ISSUER_FLAG = "--oidc-issuer (MODELYARD_OIDC_ISSUER)"
ALGORITHMS_FLAG = "--oidc-algorithms (MODELYARD_OIDC_ALGORITHMS)"
MISTAKES = [
    ({"oidc_issuer": "http://127.0.0.1:1"}, f"{AUDIENCE_FLAG} is required with an issuer"),
    (
        {**HTTPS, "oidc_issuer": "http://idp.example"},
        f"{ISSUER_FLAG} must be https (plain http only on loopback), got 'http://idp.example'",
    ),
    ({**HTTPS, "oidc_issuer": "idp.example"}, f"{ISSUER_FLAG} is not an http(s) URL"),
    ({**HTTPS, "oidc_algorithms": "RS256,HS256"}, f"{ALGORITHMS_FLAG} may not name HS256"),
    ({**HTTPS, "oidc_algorithms": "none"}, f"{ALGORITHMS_FLAG} may not name none"),
    (
        {**HTTPS, "oidc_jwks_url": "http://idp.example/keys"},
        "--oidc-jwks-url (MODELYARD_OIDC_JWKS_URL) must be https",
    ),
    (
        {**HTTPS, "oidc_tenant_claim": "org", "oidc_tenant": "acme"},
        "--oidc-tenant-claim and --oidc-tenant are both set",
    ),
    ({"oidc_audience": "modelyard"}, f"--oidc-audience is set but {ISSUER_FLAG} is not"),
]


@pytest.mark.parametrize(("settings", "said"), MISTAKES)
def test_settings_that_could_not_verify_a_jwt_stop_the_start(
    server_factory: ServerFactory, settings: dict[str, str], said: str
) -> None:
    start: Callable[..., Server] = server_factory  # the settings are keyword arguments
    with pytest.raises(SetupError) as e:
        start("sqlite", **settings)
    assert str(e.value).startswith(said) and "\n" not in str(e.value)


def test_the_discovery_document_must_name_the_issuer_the_server_trusts(
    server_factory: ServerFactory,
) -> None:
    with identity_provider("RS256") as idp:
        trusted = idp.issuer + "/"  # not the provider's issuer: the slash differs
        with server_factory("sqlite", oidc_issuer=trusted, oidc_audience=AUDIENCE) as server:
            token = jwt.encode(
                idp.claims("ann", "viewer", iss=trusted),
                idp.keys[0].private,
                algorithm="RS256",
                headers={"kid": idp.keys[0].kid},
            )
            with raw_stubs(server.address, token) as raw, pytest.raises(grpc.RpcError) as e:
                raw.registry.ListModelGroups(rs.ListModelGroupsRequest(), metadata=raw.metadata)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
            assert f"names the issuer '{idp.issuer}', not '{trusted}'" in str(e.value.details())
