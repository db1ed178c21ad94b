package collector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// appSchema is the spec's schema (leads, agents, lead_assignments, from its
// sections 2, 3, 5 and 9) plus the bookkeeping tables of Prisma Migrate,
// golang-migrate and Flyway.
var appSchema = []string{
	`CREATE TYPE lead_status AS ENUM ('RECEIVED', 'PROCESSING', 'QUALIFIED', 'ROUTED', 'CONVERTED', 'REJECTED')`,
	`CREATE TABLE agents (
		id serial PRIMARY KEY, name text NOT NULL, is_active boolean NOT NULL DEFAULT true,
		current_lead_count int NOT NULL DEFAULT 0, max_lead_capacity int NOT NULL DEFAULT 10,
		deleted_at timestamptz)`,
	`CREATE INDEX idx_agents_active_capacity ON agents (is_active, max_lead_capacity) INCLUDE (current_lead_count)`,
	`CREATE TABLE leads (
		id serial PRIMARY KEY, email text NOT NULL, phone text, quality_score int, source text,
		status lead_status NOT NULL DEFAULT 'RECEIVED', version int NOT NULL DEFAULT 1,
		created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
		deleted_at timestamptz,
		CONSTRAINT leads_email_unique UNIQUE (email),
		CONSTRAINT chk_leads_quality_score CHECK (quality_score >= 0 AND quality_score <= 100))`,
	`CREATE INDEX idx_leads_active ON leads (status) WHERE deleted_at IS NULL`,
	`CREATE TABLE lead_assignments (
		id serial PRIMARY KEY, lead_id int NOT NULL REFERENCES leads (id), agent_id int NOT NULL REFERENCES agents (id),
		assigned_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz)`,
	`CREATE TABLE _prisma_migrations (
		id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz,
		migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz,
		started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count int NOT NULL DEFAULT 0)`,
	`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`,
	`CREATE TABLE flyway_schema_history (
		installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
		type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum int,
		installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(),
		execution_time int NOT NULL, success boolean NOT NULL)`,
}

var leadStatuses = []string{"RECEIVED", "PROCESSING", "QUALIFIED", "ROUTED", "CONVERTED", "REJECTED"}

// fixture is generated data and what the shipped queries must report for it,
// computed here from the data rather than by SQL.
type fixture struct {
	sql  []string
	want map[string]float64 // "metric{label=value,...}" -> value
}

func key(name string, labels ...string) string {
	return name + "{" + strings.Join(labels, ",") + "}"
}

// Ages are far from the queries' thresholds (30 minutes, 90 days) so the
// time the test takes cannot move a row across one.
func appFixture(seed uint64) fixture {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := fixture{want: map[string]float64{}}
	add := func(k string, v float64) { f.want[k] += v }
	for _, st := range leadStatuses {
		add(key("pg_app_leads_by_status", "status="+st), 0)
	}
	// Agents
	var agentIDs []int
	for i := 1; i <= 12; i++ {
		active := rng.IntN(4) != 0
		maxCap := 5 + rng.IntN(6)
		cur := rng.IntN(maxCap + 3) // sometimes over capacity
		f.sql = append(f.sql, fmt.Sprintf("INSERT INTO agents (id, name, is_active, current_lead_count, max_lead_capacity) VALUES (%d, 'agent %d', %t, %d, %d)", i, i, active, cur, maxCap))
		agentIDs = append(agentIDs, i)
		if active {
			add(key("pg_app_agents_active"), 1)
			add(key("pg_app_agents_assigned_leads"), float64(cur))
			add(key("pg_app_agents_capacity_leads"), float64(maxCap))
			if cur >= maxCap {
				add(key("pg_app_agents_at_capacity"), 1)
			} else {
				add(key("pg_app_agents_at_capacity"), 0)
			}
		}
	}
	// Leads: status, minutes since the last update, days since soft deletion (-1: not deleted).
	deletedDays := []int{-1, -1, -1, 10, 200}
	updatedMinutes := []int{5, 10, 120, 600}
	oldestProcessing := 0
	add(key("pg_app_leads_processing_stuck"), 0)
	softDeleted := map[string][2]float64{} // table -> due, total
	for i := 1; i <= 300; i++ {
		st := leadStatuses[rng.IntN(len(leadStatuses))]
		upd := updatedMinutes[rng.IntN(len(updatedMinutes))]
		del := deletedDays[rng.IntN(len(deletedDays))]
		deleted := "NULL"
		if del >= 0 {
			deleted = fmt.Sprintf("now() - interval '%d days'", del)
			sd := softDeleted["leads"]
			sd[1]++
			if del > 90 {
				sd[0]++
			}
			softDeleted["leads"] = sd
		} else {
			add(key("pg_app_leads_by_status", "status="+st), 1)
			if st == "PROCESSING" {
				if upd > 30 {
					add(key("pg_app_leads_processing_stuck"), 1)
				}
				oldestProcessing = max(oldestProcessing, upd)
			}
		}
		f.sql = append(f.sql, fmt.Sprintf(`INSERT INTO leads (id, email, status, quality_score, updated_at, deleted_at)
			VALUES (%d, 'lead%d@example.com', '%s', %d, now() - interval '%d minutes', %s)`, i, i, st, rng.IntN(101), upd, deleted))
		if rng.IntN(3) == 0 {
			adel := deletedDays[rng.IntN(len(deletedDays))]
			adeleted := "NULL"
			if adel >= 0 {
				adeleted = fmt.Sprintf("now() - interval '%d days'", adel)
				sd := softDeleted["lead_assignments"]
				sd[1]++
				if adel > 90 {
					sd[0]++
				}
				softDeleted["lead_assignments"] = sd
			}
			f.sql = append(f.sql, fmt.Sprintf("INSERT INTO lead_assignments (lead_id, agent_id, deleted_at) VALUES (%d, %d, %s)", i, agentIDs[rng.IntN(len(agentIDs))], adeleted))
		}
	}
	f.want[key("pg_app_leads_processing_oldest_age_seconds")] = float64(oldestProcessing * 60)
	for _, table := range []string{"leads", "agents", "lead_assignments"} {
		sd := softDeleted[table]
		f.want[key("pg_app_soft_delete_cleanup_due_rows", "relname="+table)] = sd[0]
		f.want[key("pg_app_soft_delete_deleted_rows", "relname="+table)] = sd[1]
	}
	// Prisma: applied, pending, failed and rolled-back migrations.
	var lastFinished time.Time
	for i := 1; i <= 9; i++ {
		finished, logs, rolledBack := "NULL", "NULL", "NULL"
		switch state := rng.IntN(4); state {
		case 0, 1:
			at := time.Date(2026, 1, i, 12, 0, 0, 0, time.UTC)
			finished = "'" + at.Format(time.RFC3339) + "'"
			if at.After(lastFinished) {
				lastFinished = at
			}
			add(key("pg_app_prisma_migrations_applied"), 1)
		case 2:
			if rng.IntN(2) == 0 {
				logs = "'error: relation already exists'"
				add(key("pg_app_prisma_migrations_failed"), 1)
			} else {
				add(key("pg_app_prisma_migrations_pending"), 1)
			}
		case 3:
			rolledBack = "now()"
			add(key("pg_app_prisma_migrations_rolled_back"), 1)
		}
		f.sql = append(f.sql, fmt.Sprintf(`INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, logs, rolled_back_at)
			VALUES ('m%d', 'c', '2026010%d_m', %s, %s, %s)`, i, i, finished, logs, rolledBack))
	}
	for _, m := range []string{"applied", "pending", "failed", "rolled_back"} {
		add(key("pg_app_prisma_migrations_"+m), 0)
	}
	if !lastFinished.IsZero() {
		f.want[key("pg_app_prisma_migrations_last_finished_timestamp_seconds")] = float64(lastFinished.Unix())
	} else {
		f.want[key("pg_app_prisma_migrations_last_finished_timestamp_seconds")] = 0
	}
	// golang-migrate
	version, dirty := 20260100+rng.IntN(99), rng.IntN(2) == 0
	f.sql = append(f.sql, fmt.Sprintf("INSERT INTO schema_migrations VALUES (%d, %t)", version, dirty))
	f.want[key("pg_app_golang_migrate_version")] = float64(version)
	f.want[key("pg_app_golang_migrate_dirty")] = map[bool]float64{true: 1}[dirty]
	// Flyway
	var lastInstalled time.Time
	add(key("pg_app_flyway_migrations_applied"), 0)
	add(key("pg_app_flyway_migrations_failed"), 0)
	for i := 1; i <= 5; i++ {
		ok := rng.IntN(4) != 0
		at := time.Date(2026, 2, i, 8, 30, 0, 0, time.UTC)
		f.sql = append(f.sql, fmt.Sprintf(`INSERT INTO flyway_schema_history VALUES (%d, '%d', 'step', 'SQL', 'V%d__step.sql', 1, 'app', '%s', 12, %t)`,
			i, i, i, at.Format("2006-01-02 15:04:05"), ok))
		if ok {
			add(key("pg_app_flyway_migrations_applied"), 1)
			if at.After(lastInstalled) {
				lastInstalled = at
			}
		} else {
			add(key("pg_app_flyway_migrations_failed"), 1)
		}
	}
	f.want[key("pg_app_flyway_migrations_last_installed_timestamp_seconds")] = 0
	if !lastInstalled.IsZero() {
		f.want[key("pg_app_flyway_migrations_last_installed_timestamp_seconds")] = float64(lastInstalled.Unix())
	}
	return f
}

// emptyWant is what the shipped queries report on the schema without rows.
func emptyWant() map[string]float64 {
	w := map[string]float64{}
	for _, st := range leadStatuses {
		w[key("pg_app_leads_by_status", "status="+st)] = 0
	}
	for _, table := range []string{"leads", "agents", "lead_assignments"} {
		w[key("pg_app_soft_delete_cleanup_due_rows", "relname="+table)] = 0
		w[key("pg_app_soft_delete_deleted_rows", "relname="+table)] = 0
	}
	for _, n := range []string{"pg_app_leads_processing_stuck", "pg_app_leads_processing_oldest_age_seconds",
		"pg_app_agents_active", "pg_app_agents_at_capacity", "pg_app_agents_assigned_leads", "pg_app_agents_capacity_leads",
		"pg_app_prisma_migrations_applied", "pg_app_prisma_migrations_pending", "pg_app_prisma_migrations_failed",
		"pg_app_prisma_migrations_rolled_back", "pg_app_prisma_migrations_last_finished_timestamp_seconds",
		"pg_app_flyway_migrations_applied", "pg_app_flyway_migrations_failed", "pg_app_flyway_migrations_last_installed_timestamp_seconds",
	} {
		w[key(n)] = 0
	}
	// golang-migrate's table without a row reports version 0, not dirty.
	w[key("pg_app_golang_migrate_version")] = 0
	w[key("pg_app_golang_migrate_dirty")] = 0
	return w
}

// The shipped queries.yaml, on the spec's schema filled by the test, reports
// what the test computed from its own data; on the same schema without rows
// it reports zeros; on a database without the schema, and to a role that may
// not read the tables, it stays silent. None of it is an error.
func TestShippedQueriesOnSpecSchema(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	data, err := os.ReadFile("../queries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fx := appFixture(uint64(time.Now().UnixNano()))
	for db, stmts := range map[string][]string{"app": append(append([]string{}, appSchema...), fx.sql...), "app_empty": appSchema} {
		if err := s.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := s.Exec(ctx, db, stmts...); err != nil {
			t.Fatal(err)
		}
	}
	src := collector.CustomSource{Name: "queries.yaml", Data: data}
	r := customScraper(t, s.SuperuserDSN(""), src).Scrape(t)
	if f := r.Failed(); len(f) > 0 {
		t.Errorf("failed: %v", f)
	}
	if mf := r["pg_custom_query_errors_total"]; mf != nil {
		t.Errorf("errors: %v", r.String("pg_custom_query_errors_total"))
	}
	for db, want := range map[string]map[string]float64{"app": fx.want, "app_empty": emptyWant()} {
		for k, v := range want {
			name, rest, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
			labels := map[string]string{"datname": db}
			for _, kv := range strings.Split(rest, ",") {
				if a, b, ok := strings.Cut(kv, "="); ok {
					labels[a] = b
				}
			}
			got, ok := r.Value(name, labels)
			if name == "pg_app_leads_processing_oldest_age_seconds" && v > 0 {
				// now() moved on since the rows were written: allow the test's own run time.
				if !ok || got < v || got > v+600 {
					t.Errorf("%s: %s = %v, want %v (plus the seconds since the insert)", db, k, got, v)
				}
				continue
			}
			if !ok || got != v {
				t.Errorf("%s: %s = %v (present %v), want %v\n%s", db, k, got, ok, v, r.String(name))
			}
		}
		// No series beyond those computed: the status list and tables are complete.
		for _, name := range []string{"pg_app_leads_by_status", "pg_app_soft_delete_deleted_rows"} {
			n := len(r.Values(name, map[string]string{"datname": db}))
			wantN := 0
			for k := range want {
				if strings.HasPrefix(k, name+"{") {
					wantN++
				}
			}
			if n != wantN {
				t.Errorf("%s: %s has %d series, want %d", db, name, n, wantN)
			}
		}
	}
	// The database without the schema: no series, no error.
	for _, name := range r.Names() {
		if strings.HasPrefix(name, "pg_app_") || strings.HasPrefix(name, "pg_custom_query_") {
			if vs := r.Values(name, map[string]string{"datname": "postgres"}); len(vs) > 0 {
				t.Errorf("%s reported on the database without the schema", name)
			}
		}
	}

	// A role with pg_monitor only may not read the tables: every query stays
	// silent, none fails.
	monDSN, err := s.CreateMonitorRole(ctx, "monitor_shipped", "monpw")
	if err != nil {
		t.Fatal(err)
	}
	rm := customScraper(t, monDSN, src).Scrape(t)
	rm.RequireUp(t)
	for _, name := range rm.Names() {
		if strings.HasPrefix(name, "pg_app_") || strings.HasPrefix(name, "pg_custom_query_") {
			t.Errorf("%s emitted to a role that cannot read the tables:\n%s", name, rm.String(name))
		}
	}
}
