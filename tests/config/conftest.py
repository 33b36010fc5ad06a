"""Fixtures for the configuration mode: YAML files and hook modules in a temporary folder."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tornado_ws_compat.config import Config, load_config

#: How long a test waits for an event that must happen (a deadline, never a sleep).
TIMEOUT = 10.0


class Recorder:
    """Hooks call ``record(name, *values)``; a test reads ``events`` or awaits ``wait(name)``."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self._waiters: list[tuple[str, int, asyncio.Future[tuple[Any, ...]]]] = []

    def __call__(self, name: str, *values: Any) -> None:
        self.events.append((name, *values))
        for waiter in list(self._waiters):
            wanted, count, future = waiter
            if not future.done() and len(self.named(wanted)) >= count:
                future.set_result(self.named(wanted)[count - 1])
                self._waiters.remove(waiter)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [event[1:] for event in self.events if event[0] == name]

    async def wait(self, name: str, count: int = 1, timeout: float = TIMEOUT) -> tuple[Any, ...]:
        """The ``count``-th event called ``name`` (its values), once it has happened."""
        found = self.named(name)
        if len(found) >= count:
            return found[count - 1]
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._waiters.append((name, count, future))
        return await asyncio.wait_for(future, timeout)


class Project:
    """A folder with a YAML file and a hook module of a unique name (no clash across tests).

    In YAML and hook sources, ``$hooks`` stands for the module's name. The module gets a
    global ``record`` (a :class:`Recorder`) once loaded.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.module_name = f"hooks_{uuid.uuid4().hex[:12]}"
        self.record = Recorder()
        self.configs: list[Config] = []

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("$hooks", self.module_name))
        return path

    def hooks(self, source: str) -> Path:
        return self.write(f"{self.module_name}.py", "record = None\n" + textwrap.dedent(source))

    def module(self, source: str) -> ModuleType:
        """Write the hook module and import it (for tests of hooks without a YAML file)."""
        self.hooks(source)
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        module = importlib.import_module(self.module_name)
        module.record = self.record  # type: ignore[attr-defined]
        return module

    def load(self, yaml_text: str, hooks: str | None = None, name: str = "app.yaml") -> Config:
        if hooks is not None:
            self.hooks(hooks)
        config = load_config(self.write(name, yaml_text))
        self.configs.append(config)
        module = sys.modules.get(self.module_name)
        if module is not None:
            module.record = self.record  # type: ignore[attr-defined]
        return config

    def cleanup(self) -> None:
        for config in self.configs:
            config.close()
        sys.modules.pop(self.module_name, None)
        while str(self.root) in sys.path:
            sys.path.remove(str(self.root))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    folder = tmp_path / "project"
    folder.mkdir()
    instance = Project(folder)
    yield instance
    instance.cleanup()


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[Callable[[str], Project]]:
    """Several projects in one test (one folder each)."""
    created: list[Project] = []

    def make(name: str) -> Project:
        folder = tmp_path / name
        folder.mkdir()
        created.append(Project(folder))
        return created[-1]

    yield make
    for instance in created:
        instance.cleanup()
