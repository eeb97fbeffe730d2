"""The sync and async SDKs are one API: the same members with the same signatures, the sync
code generated from the async code by scripts/unasync.py, and current."""

from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import modelyard
import pytest
from modelyard._async.pagers import AsyncListPager
from modelyard._sync.pagers import ListPager

from tests.support.paths import REPO

PACKAGE = REPO / "client" / "src" / "modelyard"

#: The classes users get, each sync class with its async twin.
TWINS: list[tuple[type[Any], type[Any]]] = [
    (modelyard.Registry, modelyard.AsyncRegistry),
    (modelyard.Watch, modelyard.AsyncWatch),
    (modelyard.Pager, modelyard.AsyncPager),
    (ListPager, AsyncListPager),  # what every list method returns
    (modelyard.Followed, modelyard.AsyncFollowed),
]
TWIN_IDS = [sync.__name__ for sync, _ in TWINS]
SYNC_PROTOCOL = {"__enter__", "__exit__", "__iter__", "__next__"}
ASYNC_PROTOCOL = {"__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__"}
ASYNC_PROTOCOL |= {"__anext__": "__next__"}
#: How an async annotation reads in sync code: ``AsyncX`` is ``X``, ``XAsyncStub`` is
#: ``XStub`` and ``Awaitable[X]`` is ``X``.
ASYNC_SPELLINGS = [
    (re.compile(r"\bAsync(?=[A-Z])"), ""),
    (re.compile(r"AsyncStub\b"), "Stub"),
    (re.compile(r"\bAwaitable\[([^\[\]]*)\]"), r"\1"),
]


def surface(cls: type[Any]) -> dict[str, Any]:
    """Returns the members a user calls, as defined (functions, properties, classmethods),
    by their sync name: the public ones, ``__init__``, and the context manager's and the
    iterator's methods."""
    members = {}
    for name in dir(cls):
        sync_name = ASYNC_PROTOCOL.get(name, name)
        member = inspect.getattr_static(cls, name)
        if name == "__init__" and not inspect.isfunction(member):
            continue  # object's
        if not name.startswith("_") or name == "__init__" or sync_name in SYNC_PROTOCOL:
            members[sync_name] = member
    return members


def function_of(member: Any) -> Callable[..., Any]:
    """Returns the function behind a method, a classmethod or a property."""
    if isinstance(member, property):
        assert member.fget is not None
        return member.fget
    if isinstance(member, classmethod | staticmethod):
        return typing.cast(Callable[..., Any], member.__func__)
    assert inspect.isfunction(member), f"{member!r} is not a method"
    return member


def as_sync(annotation: Any) -> Any:
    """Returns an async annotation (a string: the modules postpone annotations) as it reads
    in sync code."""
    if isinstance(annotation, str):
        for pattern, replacement in ASYNC_SPELLINGS:
            annotation = pattern.sub(replacement, annotation)
    return annotation


def resolved(function: Callable[..., Any], annotation: str) -> Any:
    """Returns the type an annotation of ``function`` names, without its parameters."""
    value = eval(annotation, vars(sys.modules[function.__module__]))
    return typing.get_origin(value) or value


@pytest.mark.parametrize(("sync_cls", "async_cls"), TWINS, ids=TWIN_IDS)
def test_the_sync_and_async_twins_offer_the_same_members(
    sync_cls: type[Any], async_cls: type[Any]
) -> None:
    sync, asynchronous = surface(sync_cls), surface(async_cls)
    assert sorted(sync.keys() - asynchronous.keys()) == [], f"only {sync_cls.__name__} has them"
    assert sorted(asynchronous.keys() - sync.keys()) == [], f"only {async_cls.__name__} has them"


@pytest.mark.parametrize(("sync_cls", "async_cls"), TWINS, ids=TWIN_IDS)
def test_each_member_takes_the_same_parameters_with_the_same_defaults(
    sync_cls: type[Any], async_cls: type[Any]
) -> None:
    sync, asynchronous = surface(sync_cls), surface(async_cls)
    for name in sorted(sync.keys() & asynchronous.keys()):
        assert type(sync[name]) is type(asynchronous[name]), name
        sync_signature = inspect.signature(function_of(sync[name]))
        async_signature = inspect.signature(function_of(asynchronous[name]))
        assert [
            (p.name, p.kind, p.default, p.annotation) for p in sync_signature.parameters.values()
        ] == [
            (p.name, p.kind, p.default, as_sync(p.annotation))
            for p in async_signature.parameters.values()
        ], f"{sync_cls.__name__}.{name} and {async_cls.__name__}.{name} differ"
        assert sync_signature.return_annotation == as_sync(async_signature.return_annotation), name


@pytest.mark.parametrize(("sync_cls", "async_cls"), TWINS, ids=TWIN_IDS)
def test_async_members_are_coroutines_or_return_async_iterators(
    sync_cls: type[Any], async_cls: type[Any]
) -> None:
    sync, asynchronous = surface(sync_cls), surface(async_cls)
    for name in sorted(sync.keys() & asynchronous.keys()):
        sync_function, async_function = function_of(sync[name]), function_of(asynchronous[name])
        assert not inspect.iscoroutinefunction(sync_function), f"{sync_cls.__name__}.{name}"
        assert not inspect.isasyncgenfunction(sync_function), f"{sync_cls.__name__}.{name}"
        sync_returns = inspect.signature(sync_function).return_annotation
        async_returns = inspect.signature(async_function).return_annotation
        at_once = name in ("__init__", "__iter__") or isinstance(asynchronous[name], property)
        # A method may instead return what `await` opens (AsyncRegistry.watch), so that
        # `async with` and `async for` can open it too.
        awaitable = not at_once and hasattr(resolved(async_function, async_returns), "__await__")
        plain = at_once or awaitable
        assert inspect.iscoroutinefunction(async_function) is not plain, (
            f"{async_cls.__name__}.{name} should {'not ' * plain}be a coroutine function"
        )
        if sync_returns != async_returns:
            # What differs is a twin: the class itself, another pair of twins, or an
            # iterator of the matching kind.
            sync_type = resolved(sync_function, sync_returns)
            async_type = resolved(async_function, async_returns)
            if (sync_type, async_type) in TWINS:
                continue
            assert sync_type is sync_cls or hasattr(sync_type, "__iter__"), name
            assert async_type is async_cls or hasattr(async_type, "__aiter__"), name


def test_every_async_name_the_package_exports_has_its_sync_twin() -> None:
    for name in modelyard.__all__:
        if name.startswith("Async"):
            assert name.removeprefix("Async") in modelyard.__all__, name


# The generated sync code


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    """scripts/unasync.py, loaded as a module."""
    spec = importlib.util.spec_from_file_location("unasync", REPO / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sync_package_is_what_unasync_generates_from_the_async_one(
    unasync: ModuleType,
) -> None:
    stale = [path.relative_to(REPO).as_posix() for path in unasync.stale()]
    assert stale == [], "run `make unasync`"


def test_each_generated_module_says_where_it_comes_from() -> None:
    for path in (PACKAGE / "_async").glob("*.py"):
        generated = (PACKAGE / "_sync" / path.name).read_text(encoding="utf-8")
        first_line = generated.splitlines()[0]
        assert (
            first_line == f"# Generated by scripts/unasync.py from _async/{path.name}; do not edit."
        )


@pytest.fixture
def copied_packages(tmp_path: Path, unasync: ModuleType) -> tuple[Path, Path]:
    """A copy of _async/ and the _sync/ generated from it."""
    async_dir, sync_dir = tmp_path / "_async", tmp_path / "_sync"
    shutil.copytree(PACKAGE / "_async", async_dir)
    unasync.write(async_dir, sync_dir)
    return async_dir, sync_dir


def test_a_method_added_to_the_async_client_makes_the_sync_one_stale_until_regenerated(
    unasync: ModuleType, copied_packages: tuple[Path, Path]
) -> None:
    async_dir, sync_dir = copied_packages
    assert unasync.stale(async_dir, sync_dir) == []
    client = async_dir / "client.py"
    client.write_text(
        client.read_text(encoding="utf-8")
        + '''
    async def archive_all(self, group: str) -> list[AsyncWatch]:
        """Returns nothing useful."""
        async for version in await self.list_versions(group):
            await self.transition(version.name, "archived")
        return []
''',
        encoding="utf-8",
    )
    assert unasync.stale(async_dir, sync_dir) == [sync_dir / "client.py"]

    assert unasync.write(async_dir, sync_dir) == [sync_dir / "client.py"]
    generated = (sync_dir / "client.py").read_text(encoding="utf-8")
    assert (
        '''
    def archive_all(self, group: str) -> list[Watch]:
        """Returns nothing useful."""
        for version in self.list_versions(group):
            self.transition(version.name, "archived")
        return []
'''
        in generated
    )
    assert unasync.stale(async_dir, sync_dir) == []


def test_a_sync_module_without_an_async_source_is_stale(
    unasync: ModuleType, copied_packages: tuple[Path, Path]
) -> None:
    async_dir, sync_dir = copied_packages
    (sync_dir / "leftover.py").write_text('"""Hand-written by mistake."""\n', encoding="utf-8")
    assert unasync.stale(async_dir, sync_dir) == [sync_dir / "leftover.py"]
