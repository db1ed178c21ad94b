// Package remediate is the Alertmanager webhook receiver behind
// `pg_hardening_exporter remediate`. It accepts webhook payloads (version 4),
// maps alerts to actions through its configuration (remediate.yml) and runs
// them on a worker pool, never inside the request: VACUUM, ANALYZE, REINDEX
// CONCURRENTLY, cancelling or terminating sessions, retrying a backup, or a
// configured command.
//
// Every action is guarded: dry-run unless the configuration says enforce;
// allowlists of databases, schemas, tables and roles; the object is looked up
// in the catalog and quoted from the catalog's names, so label text never
// becomes SQL; the condition is re-checked live before acting; cooldowns,
// maintenance windows, a per-target concurrency limit and circuit breaker;
// duplicate notifications are dropped, and a PostgreSQL advisory lock keeps two
// receivers from running the same action. Every decision goes to an
// append-only JSON-lines audit log and to pg_remediation_actions_total, and
// every action's "started" record is written before it runs.
//
// Enforce mode needs authenticated clients (Access) unless the network is
// declared trusted; reloads reach work already queued or deferred; every
// piece of state a sender can grow (remembered notifications, deferred
// actions, label text, metric label values) is bounded.
package remediate
