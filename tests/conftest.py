"""One Temporal dev server per session; each workflow test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.regulator import OutboxDirectoryGateway
from complaints.actions import ComplaintActions
from complaints.config import PROJECT_ROOT
from complaints.devserver import temporal_binary
from complaints.intake import ComplaintIntakeClient
from complaints.keys import set_up_demo_keys
from complaints.logging import configure_logging
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from domain.policy import PolicyStore
from models import search_attributes as sa
from worker import build_worker

COMPRESSED_POLICY = PROJECT_ROOT / "policies" / "compressed.yaml"
STAFF_DIRECTORY = PROJECT_ROOT / "db" / "staff_directory.yaml"
HISTORIES = Path(__file__).parent / "histories"
REPORT_SIGNING_KEY = b"test-signing-key"
PG_ADMIN_URL = os.environ.get("COMPLAINTS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    # JSON logs at WARNING: the in-process worker's info lines would drown pytest's output.
    configure_logging("WARNING")
    # No payload encryption, whatever the shell or .data/codec-keys.json (`make run`) holds: the
    # suite's clients use the plain converter, and the worker processes it starts must match.
    # The codec's own tests (tests/test_codec_server.py, tests/complaints/test_codec.py) make theirs.
    os.environ["COMPLAINTS_CODEC_KEYS_FILE"] = "none"
    os.environ.pop("COMPLAINTS_CODEC_KEYS", None)
    # Every member of staff signs their actions (issue 16): the suite's own configuration
    # directory holds a key for each (``set_up_demo_keys``, as `make run` does for the demo), never
    # the person's ~/.config; CLI processes the tests start inherit it.
    os.environ["COMPLAINTS_CONFIG_DIR"] = tempfile.mkdtemp(prefix="complaints-test-config-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-histories",
        action="store_true",
        help="write the histories of the scenario tests to tests/histories for the replay test",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_ui_port() -> int:
    return free_port()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env(web_ui_port: int) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        ui=True,
        ui_port=web_ui_port,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def policies() -> PolicyStore:
    return PolicyStore.from_file(COMPRESSED_POLICY)


def _postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL for this session, dropped afterwards."""
    name = f"complaints_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable, and CI may not skip it: {err}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {err}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'complaints.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    migrate(database_url)
    engine = make_engine(database_url)
    seed_staff_directory(engine, STAFF_DIRECTORY)
    set_up_demo_keys(engine)
    yield engine
    engine.dispose()


@dataclass
class Service:
    """What a test talks to: the client, the intake helper and the database behind the worker."""

    client: Client
    intake: ComplaintIntakeClient
    engine: Engine
    task_queue: str
    backend: str
    reports_dir: Path  # where the worker writes the periodic analysis and the returns


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service(
    client: Client, engine: Engine, policies: PolicyStore, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    task_queue = f"complaints-test-{engine.dialect.name}-{uuid.uuid4().hex[:6]}"
    reports = OutboxDirectoryGateway(tmp_path_factory.mktemp("regulator-outbox"), REPORT_SIGNING_KEY)
    reports_dir = tmp_path_factory.mktemp("reports")
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(
            client,
            task_queue=task_queue,
            engine=engine,
            policies=policies,
            executor=executor,
            regulator_gateway=reports,
            reports_dir=reports_dir,
            # The staff directory is every test's: a 20-second course assigned to a handler by one
            # test's investigation would leave them overdue, and skipped for complex complaints, in
            # the tests after it. tests/workflows/test_training.py covers that path on its own data.
            training_from_investigations=False,
        )
        async with worker:
            yield Service(
                client=client,
                intake=ComplaintIntakeClient(client, task_queue=task_queue),
                engine=engine,
                task_queue=task_queue,
                backend=engine.dialect.name,
                reports_dir=reports_dir,
            )


@pytest.fixture
def actions(service: Service) -> ComplaintActions:
    return ComplaintActions(service.client)
