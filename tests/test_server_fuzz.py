"""Property-based fuzzing of the studio's OpenAPI schema with schemathesis: whatever a client sends, the answer is
never a 5xx, never carries a traceback, and matches the documented response schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from reelwright.server.app import create_app  # noqa: E402
from reelwright.server.studio import Studio  # noqa: E402


def _schema():
    # Built at import (schemathesis' lazy fixture loader does not run on pytest 9), in a folder of its own.
    home = Path(tempfile.mkdtemp(prefix="rw-fuzz-"))
    studio = Studio(home, max_workers=1, max_queued=100_000, runs_dir=home / "runs")
    # The fuzzer checks the API, not rendering: accepted jobs wait in the queue instead of being made.
    studio.queue.start = lambda: None  # type: ignore[method-assign]
    studio.queue.stop = lambda: None  # type: ignore[method-assign]
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(studio, mcp=False))


schema = _schema()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_no_traceback_and_documented_responses(case):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
    case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
