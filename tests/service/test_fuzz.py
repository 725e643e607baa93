"""Schema-based fuzzing of the OpenAPI spec: no input makes the service answer 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from service.config import Settings
from service.main import create_app
from tests.service.conftest import TestClient
from tests.support import TILTED, make_checkpoint


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    ckpt = make_checkpoint(root / "model", theta=TILTED)
    app = create_app(Settings(model_dir=ckpt, job_store=root / "jobs", max_side=256))
    with TestClient(app):  # runs the lifespan: model, job store, embedded runner
        yield app


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema):
    operations = [op.ok() for op in api_schema.get_all_operations()]
    assert len(operations) >= 8
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
