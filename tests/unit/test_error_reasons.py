"""The server names every error case and every log action with the proto's own enums."""

from __future__ import annotations

import ast
from pathlib import Path

from modelyard.v1 import errors_pb2

from tests.support.inprocess import SERVER_PACKAGE, domain_errors

SERVER = SERVER_PACKAGE
ERROR_CLASSES = {
    name
    for name, value in vars(domain_errors).items()
    if isinstance(value, type) and issubclass(value, domain_errors.DomainError)
}


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(SERVER.rglob("*.py"))]


def test_every_error_the_server_raises_names_a_reason_the_proto_defines() -> None:
    defined = set(errors_pb2.ErrorReason.keys()) - {"ERROR_REASON_UNSPECIFIED"}
    raised: list[str] = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in ERROR_CLASSES or not node.args:
                continue
            reason = node.args[0]
            where = f"{path.relative_to(SERVER)}:{node.lineno}"
            if isinstance(reason, ast.Name) and reason.id.endswith("reason"):
                continue  # handed through, typed ErrorReason.ValueType (mypy checks the caller)
            assert isinstance(reason, ast.Attribute), f"{where}: the reason is not reasons.<NAME>"
            assert isinstance(reason.value, ast.Name) and reason.value.id == "reasons", where
            assert reason.attr in defined, f"{where}: {reason.attr} is not an ErrorReason"
            raised.append(reason.attr)
    # The scan saw the server's errors, not an empty tree.
    assert {"MODEL_GROUP_NOT_FOUND", "STALE_ETAG", "INVALID_TRANSITION"} <= set(raised)


def test_every_reason_attribute_in_the_server_is_defined() -> None:
    defined = set(errors_pb2.ErrorReason.keys())
    for path, tree in sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "reasons"
                and node.attr not in {"ErrorReason"}
            ):
                assert node.attr in defined, f"{path.name}:{node.lineno}: reasons.{node.attr}"


def test_no_log_action_is_a_bare_string() -> None:
    """Changes name their action with pb.Action (ACTION_…), never a string of their own."""
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "draft",
                "version_draft",
            ):
                action = node.args[0]
                if isinstance(action, ast.Name) and action.id == "action":
                    continue  # handed through, typed pb.Action.ValueType
                assert isinstance(action, ast.Attribute), f"{path.name}:{node.lineno}"
                assert action.attr.startswith("ACTION_"), f"{path.name}:{node.lineno}"


def test_a_domain_error_carries_the_name_of_its_reason() -> None:
    error = domain_errors.NotFound(
        errors_pb2.MODEL_GROUP_NOT_FOUND, "model group 'groups/x' does not exist"
    )
    assert error.reason_name == "MODEL_GROUP_NOT_FOUND"
