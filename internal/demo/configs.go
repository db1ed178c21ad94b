package demo

import (
	"fmt"
	"os"
	"strings"
)

// writeConfigs writes the configuration of every part into the directory.
func (r *run) writeConfigs(expPort, promPort, amPort, recPort int, superDSN string) error {
	pgbouncers := ""
	if r.pgb != nil {
		pgbouncers = fmt.Sprintf(`pgbouncers:
  - name: demo
    dsn: postgres://pgbouncer_admin:adminpw@127.0.0.1:%d/pgbouncer?sslmode=disable
`, r.pgb.Port)
	}
	files := map[string]string{
		"exporter.yml": `# Example per-service pools.
pools:
  - {name: api, application_name: api, min_connections: 5, max_connections: 20}
  - {name: data-service, application_name: data-service, min_connections: 5, max_connections: 15}
  - {name: background-jobs, application_name: background-jobs, min_connections: 2, max_connections: 10}
  - {name: analytics, application_name: analytics, min_connections: 2, max_connections: 5}
  - {name: batch-operations, application_name: batch-operations, min_connections: 3, max_connections: 8}
activity:
  long_transaction_threshold: 30s
` + pgbouncers,

		// The demo's alerts wait seconds, not minutes, before they fire.
		"mixin.yml": `alerts:
  PostgresIdleInTransaction: {for: 15s, warning: 20}
  PostgresLongRunningTransaction: {for: 15s}
  PostgresBlockingSessions: {for: 15s}
  PostgresPoolUtilizationHigh: {for: 15s}
  PostgresDeadTuplesHigh: {for: 15s}
  PostgresSlowQueriesHigh: {for: 15s, warning: 0.02, min: 0.2}
  PgBouncerClientsWaiting: {for: 15s}
`,

		"prometheus.yml": fmt.Sprintf(`global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: ['%s/rules/*.yml']
alerting:
  alertmanagers:
    - static_configs: [{targets: ['127.0.0.1:%d']}]
scrape_configs:
  - job_name: postgres
    static_configs: [{targets: ['127.0.0.1:%d']}]
  - job_name: remediation
    static_configs: [{targets: ['127.0.0.1:%d']}]
`, r.dir, amPort, expPort, recPort),

		"alertmanager.yml": fmt.Sprintf(`route:
  receiver: remediate
  group_by: [alertname, instance, datname, schemaname, relname]
  group_wait: 5s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: remediate
    webhook_configs:
      - url: http://127.0.0.1:%d/webhook
        send_resolved: true
        max_alerts: 20
`, recPort),

		"remediate.yml": fmt.Sprintf(`mode: dry-run
audit:
  file: %s
allow:
  databases: [app]
  schemas: [public]
  tables: ['public\..*']
  roles: [app]
targets:
  - name: demo
    match: {job: postgres}
    dsn: %q
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    params: {min_dead_tuples: 10000}
    cooldown: 1h
  - alertname: PostgresIdleInTransaction
    action: terminate_backend
    params: {sessions: idle_in_transaction, min_age: 20s, max_sessions: 1}
  - alertname: PostgresBlockingSessions
    action: terminate_backend
    params: {sessions: blocking, min_age: 10s, max_sessions: 1}
`, r.path(auditFile), superDSN),
	}
	for name, text := range files {
		if err := os.WriteFile(r.path(name), []byte(strings.TrimLeft(text, "\n")), 0o600); err != nil {
			return err
		}
	}
	return nil
}
