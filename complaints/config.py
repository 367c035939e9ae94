"""Configuration from the environment (documented in README.md, 'Configuration')."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, str(default)).lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class WorkerTuning:
    """How much the worker holds and runs at once (README, 'Benchmark', for the measurements).

    Sized for this project's 2-core machines; the SDK's defaults (1,000 cached workflows, 100
    workflow-task and 100 activity slots) suit a bigger one.
    """

    # Workflows kept in memory between their tasks (the sticky cache). Each cached complaint
    # costs about 0.45-0.6 MB (most of it the sandbox's own import of the workflow modules) on
    # top of the worker's ~150 MB; a complaint waiting on its clocks need not stay cached. 200
    # keeps the worker under 300 MB however many complaints are open (at 250, 10,000 open
    # peaked at 303 MB). One that has left the cache is rebuilt from its history (a replay)
    # when something next happens to it, so work on more complaints at once than this, each
    # needing several workflow tasks, is slower: raise it for such a load if memory allows.
    max_cached_workflows: int = field(default_factory=lambda: _env_int("COMPLAINTS_WORKER_MAX_CACHED_WORKFLOWS", 200))
    # Workflow tasks run at once. They need the GIL, so more do not run faster; they only wait
    # inside the worker, each taking longer (the SDK default of 100 made tasks take ~1 s each).
    max_concurrent_workflow_tasks: int = field(
        default_factory=lambda: _env_int("COMPLAINTS_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", 8)
    )
    # Activities run at once, and the threads of the activity pool (no fewer than the activities).
    # Most are writes to the projection database, which takes one writer at a time on SQLite.
    max_concurrent_activities: int = field(
        default_factory=lambda: _env_int("COMPLAINTS_WORKER_MAX_CONCURRENT_ACTIVITIES", 8)
    )
    activity_threads: int = field(default_factory=lambda: _env_int("COMPLAINTS_WORKER_ACTIVITY_THREADS", 8))
    # Build every workflow from one shared import of its modules instead of a fresh import of
    # the workflow's own module (complaint.py, investigation.py) per run, the sandbox's default
    # (the step modules are passed through either way): about 0.17 MB per cached complaint
    # instead of 0.25, but the workflow modules' state is shared, and the sandbox no longer
    # intercepts non-deterministic calls (datetime.now(), random, I/O) made in them. Off unless chosen.
    share_workflow_modules: bool = field(
        default_factory=lambda: _env_bool("COMPLAINTS_WORKER_SHARE_WORKFLOW_MODULES", False)
    )
    # Long polls held open on the server: the SDK's 5 each, enough to keep 8 slots supplied (not varied).
    workflow_task_pollers: int = field(default_factory=lambda: _env_int("COMPLAINTS_WORKER_WORKFLOW_TASK_POLLERS", 5))
    activity_task_pollers: int = field(default_factory=lambda: _env_int("COMPLAINTS_WORKER_ACTIVITY_TASK_POLLERS", 5))


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_ADDRESS", "localhost:7233"))
    namespace: str = field(default_factory=lambda: _env("COMPLAINTS_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("COMPLAINTS_TASK_QUEUE", "complaints"))
    database_url: str = field(
        default_factory=lambda: _env("COMPLAINTS_DATABASE_URL", f"sqlite:///{DEFAULT_DATA_DIR / 'complaints.db'}")
    )
    policy_file: Path = field(
        default_factory=lambda: Path(_env("COMPLAINTS_POLICY", str(PROJECT_ROOT / "policies" / "standard.yaml")))
    )
    staff_directory_file: Path = field(
        default_factory=lambda: Path(
            _env("COMPLAINTS_STAFF_DIRECTORY", str(PROJECT_ROOT / "db" / "staff_directory.yaml"))
        )
    )
    log_level: str = field(default_factory=lambda: _env("COMPLAINTS_LOG_LEVEL", "INFO"))
    # Notifications: with an SMTP host e-mail really leaves (else everything stays in the outbox).
    smtp_host: str = field(default_factory=lambda: _env("COMPLAINTS_SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(_env("COMPLAINTS_SMTP_PORT", "25")))
    smtp_sender: str = field(default_factory=lambda: _env("COMPLAINTS_SMTP_SENDER", "complaints@lender.example"))
    sms_endpoint: str = field(default_factory=lambda: _env("COMPLAINTS_SMS_ENDPOINT", ""))
    # Regulator reports: an HTTP endpoint, or (default) signed files in a local outbox directory.
    regulator_endpoint: str = field(default_factory=lambda: _env("COMPLAINTS_REGULATOR_ENDPOINT", ""))
    regulator_outbox: Path = field(
        default_factory=lambda: Path(_env("COMPLAINTS_REGULATOR_OUTBOX", str(DEFAULT_DATA_DIR / "regulator-outbox")))
    )
    regulator_signing_key: str = field(
        default_factory=lambda: _env("COMPLAINTS_REGULATOR_SIGNING_KEY", "development-only-signing-key")
    )
    # The periodic analysis (step 3.2): where reports and returns are written, and whether the
    # worker creates or updates their Temporal Schedules when it starts.
    reports_dir: Path = field(
        default_factory=lambda: Path(_env("COMPLAINTS_REPORTS_DIR", str(DEFAULT_DATA_DIR / "reports")))
    )
    report_schedules: bool = field(default_factory=lambda: _env_bool("COMPLAINTS_REPORT_SCHEDULES", True))
    # Step 4: at start the worker makes sure every active staff member has the training their
    # role needs (joining assignments). Off for short-lived workers on the compressed policy (the
    # demo, restart tests), where "30 days" to complete is 20 seconds and everyone would soon be
    # overdue, so routing would skip them for complex and major complaints.
    joining_training: bool = field(default_factory=lambda: _env_bool("COMPLAINTS_JOINING_TRAINING", True))
    # TLS for a real cluster: on when any of these is set (paths to PEM files).
    tls: bool = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_TLS", "false").lower() in ("1", "true", "yes"))
    tls_ca: str = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_TLS_CA", ""))
    tls_cert: str = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_TLS_CERT", ""))
    tls_key: str = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_TLS_KEY", ""))
    api_key: str = field(default_factory=lambda: _env("COMPLAINTS_TEMPORAL_API_KEY", ""))
    # Metrics (issue 17): where the worker serves the SDK runtime's Prometheus endpoint (SDK and
    # business metrics, /metrics); unset: none. `make run` uses 127.0.0.1:9464.
    metrics_address: str = field(default_factory=lambda: _env("COMPLAINTS_METRICS_ADDRESS", ""))
    # Several workers on one machine (`make run WORKERS=3`; the Procfile sets it from honcho's
    # process name worker.1, worker.2, …): the n-th serves its metrics at the port of
    # COMPLAINTS_METRICS_ADDRESS plus n - 1, so that their endpoints do not collide.
    worker_instance: int = field(default_factory=lambda: _env_int("COMPLAINTS_WORKER_INSTANCE", 1))
    # Worker Versioning (issue 17; complaints/versioning.py, README 'Upgrading workers'): with a build
    # id the worker is the version <deployment name>.<build id> of that Worker Deployment, and takes
    # new work only once an operator makes it current; unset: unversioned, as before.
    deployment_name: str = field(default_factory=lambda: _env("COMPLAINTS_DEPLOYMENT_NAME", "complaints"))
    build_id: str = field(default_factory=lambda: _env("COMPLAINTS_BUILD_ID", ""))
    # Payload encryption (complaints/codec.py, README 'Encryption'): the key ring is the file
    # (unset: .data/codec-keys.json if `make run` made it; `none`: no encryption) or the inline
    # list `k2:<base64>,k1:<base64>` (the first is current), which wins over the file.
    codec_keys_file: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_KEYS_FILE", ""))
    codec_keys: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_KEYS", ""))
    # The codec server (complaints/codec_server.py): where it listens, the URL the Web UI and the
    # CLI reach it by, the one origin it answers cross-origin (the Web UI's), and the HMAC
    # secret of staff sign-in tokens (else the key ring file's `login_secret`).
    codec_address: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_ADDRESS", "127.0.0.1:8234"))
    codec_url: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_URL", "http://localhost:8234"))
    codec_ui_origin: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_UI_ORIGIN", "http://localhost:8233"))
    codec_login_secret: str = field(default_factory=lambda: _env("COMPLAINTS_CODEC_LOGIN_SECRET", ""))
    # Worker tuning (README, 'Benchmark': what each was measured to do on a 2-core machine).
    worker: WorkerTuning = field(default_factory=lambda: WorkerTuning())
