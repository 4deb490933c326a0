"""Shouwang's service kit: the shell every service wears, so each is written once.

Modules, one concern each (import from them; this package re-exports nothing):
- `app`: `service_app()` around the container `bootstrap()` builds, `starting()` (bootstrap's
  resources, closed on a failed start), `app_container` (the one way handlers reach the
  container), `run_service()` (the console entry point);
- `settings`: `SharedSettings`, the platform-wide settings every service's class extends;
- `problems`: problem+json errors (`Problem`) in zh-CN or English;
- `security`: `CurrentPrincipal`, `require_roles`, `role_forbidden`, `require_same_campus`;
- `fastlane`: `DirectRoute` and `read_json_body` for the busiest endpoints;
- `edge`: the one ASGI layer in front (trace context, body limits, `HttpMetrics`);
- `openapi`: the problems and bearer token every operation documents;
- `ops`: `/healthz`, `/readyz`, `/metrics`;
- `logs`: JSON logs with trace ids; `serving`: `serve()` (uvicorn, tuned once);
- `kafka.clients`: `KafkaClients`, the one place Kafka clients are made;
- `kafka.consumers`: the consumer runtime (`subscribe`, `subscribe_batch`, `Retry`,
  `ConsumerObserver`); `kafka.deadletters`: `DeadLetters`;
- `transient`: `is_transient`, the one rule for failures worth retrying; `backoff`: `Backoff`;
- `tasks`: `BackgroundTasks` and periodic chores with jitter;
- `outbox`: `OutboxRelay` for a service's outbox table; `processed`: `ProcessedEvents`, the
  retention chore of consumed event ids;
- `cooperative`: `TimeSlice`, for bulk work sharing the event loop with urgent work;
- `spreadsheets`: `read_sheet`, the safe reader of uploaded XLSX/CSV (a worker process within
  budgets); `rows`: the generic half of an import's rows (header aliases, cells by field,
  errors by row, 学号/mobile/email shapes).

Trace context (`shouwang_contracts.trace`) and the wire itself stay in the contracts package.
"""
