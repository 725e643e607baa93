from __future__ import annotations

import warnings

import pytest

from tests.support import TILTED, make_checkpoint

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A small real model predicting a fixed tilted quad."""
    return make_checkpoint(tmp_path_factory.mktemp("model") / "tilted", theta=TILTED)


@pytest.fixture
def make_client(checkpoint, tmp_path):
    """``make_client(**settings)`` -> a TestClient of the real app (lifespan run) with embedded jobs."""
    from service.config import Settings
    from service.main import create_app

    clients = []

    def make(**overrides):
        settings = Settings(**{"model_dir": checkpoint, "job_store": tmp_path / "jobs", **overrides})
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
