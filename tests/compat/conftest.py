"""Fixtures of the differential suite: ``diff`` runs a scenario on Tornado 6.6.1 and on ours."""

from __future__ import annotations

import pytest

from ._harness import Differ


@pytest.fixture
def diff(caplog: pytest.LogCaptureFixture) -> Differ:
    """Run a client scenario against both implementations and compare the observations."""
    return Differ(caplog)
