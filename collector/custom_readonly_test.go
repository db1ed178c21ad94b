package collector_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// The loader refuses a query or predicate of more than one statement with
// its file and line, and reads semicolons inside strings, quoted names,
// dollar quotes and comments, and a trailing one, as part of one statement.
func TestCustomQueryIsOneStatement(t *testing.T) {
	for sql, want := range map[string]string{
		"SET TRANSACTION READ WRITE; INSERT INTO t VALUES (1)": "holds more than one statement",
		"SELECT 1 AS v; SELECT 2 AS v":                         "holds more than one statement",
		"SELECT 1 AS v;;":                                      "holds more than one statement",
		"SELECT 1 AS v; -- done\nDELETE FROM t":                "holds more than one statement",
		"SELECT 'it''s; fine' AS v; COMMIT":                    "holds more than one statement",
		"SELECT 1 AS v /* unclosed; comment":                   "is not closed",
		"SELECT $x$ unclosed; dollar AS v":                     "is not closed",
		"SELECT 1 AS v;":                                       "",
		"SELECT 1 AS v ; -- a comment after the end\n":         "",
		"SELECT ';' AS v":                                      "",
		"SELECT E'\\';' AS v":                                  "",
		`SELECT 1 AS "v;w", 2 AS v`:                            "",
		"SELECT $$;$$ AS v, $tag$ ; $$ ; $tag$ AS w":           "",
		"SELECT 1 AS v -- ; not a statement\n":                 "",
		"SELECT 1 AS v /* ; /* nested; */ ; */":                "",
	} {
		for _, where := range []string{"query", "predicate"} {
			yml := "q:\n  query: SELECT 1 AS v\n  metrics: [{v: {usage: GAUGE}}]\n"
			line := "2"
			if where == "query" {
				yml = strings.Replace(yml, "SELECT 1 AS v", quoteYAML(sql), 1)
			} else {
				yml += "  predicates: [" + quoteYAML(sql) + "]\n"
				line = "4"
			}
			_, err := collector.LoadCustomQueries([]collector.CustomSource{{Name: "q.yaml", Data: []byte(yml)}}, nil)
			switch {
			case want == "" && err != nil && strings.Contains(err.Error(), "statement"):
				t.Errorf("%s %q: refused as %v", where, sql, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), "q.yaml:"+line+": query q: "+where+" ") || !strings.Contains(err.Error(), want)):
				t.Errorf("%s %q: %v, want q.yaml:%s and %q", where, sql, err, line, want)
			}
		}
	}
}

func quoteYAML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Custom queries run so that the server refuses every write, whatever the
// text says, even for a superuser and with the loader's one-statement check
// bypassed: each attempt fails its query and nothing is written.
func TestCustomQueriesCannotWrite(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.Exec(ctx, "",
		`DROP TABLE IF EXISTS ro_victim`, `CREATE TABLE ro_victim (id int)`,
		`DROP SEQUENCE IF EXISTS ro_seq`, `CREATE SEQUENCE ro_seq`,
		`CREATE OR REPLACE FUNCTION ro_write() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ro_victim VALUES (100); RETURN 1; END $$`,
		`CREATE OR REPLACE FUNCTION ro_switch() RETURNS int LANGUAGE plpgsql AS $$ BEGIN SET TRANSACTION READ WRITE; INSERT INTO ro_victim VALUES (101); RETURN 1; END $$`,
		`CREATE OR REPLACE PROCEDURE ro_proc() LANGUAGE plpgsql AS $$ BEGIN SET TRANSACTION READ WRITE; INSERT INTO ro_victim VALUES (102); COMMIT; INSERT INTO ro_victim VALUES (103); END $$`,
	); err != nil {
		t.Fatal(err)
	}
	type attempt struct{ sql, predicate string }
	attempts := map[string]attempt{
		"insert":             {sql: `INSERT INTO ro_victim VALUES (1) RETURNING 1 AS v`},
		"set_rw_then_insert": {sql: `SET TRANSACTION READ WRITE; INSERT INTO ro_victim VALUES (2) RETURNING 1 AS v`},
		"commit_then_insert": {sql: `COMMIT; INSERT INTO ro_victim VALUES (3) RETURNING 1 AS v`},
		"rollback_then_set":  {sql: `ROLLBACK; SET default_transaction_read_only = off; INSERT INTO ro_victim VALUES (4) RETURNING 1 AS v`},
		"cte_insert":         {sql: `WITH w AS (INSERT INTO ro_victim VALUES (5) RETURNING 1) SELECT 1 AS v FROM w`},
		"set_config_rw":      {sql: `SELECT 1 AS v FROM set_config('transaction_read_only', 'off', false), ro_write()`},
		"function_writes":    {sql: `SELECT ro_write() AS v`},
		"function_switches":  {sql: `SELECT ro_switch() AS v`},
		"procedure":          {sql: `CALL ro_proc()`},
		"do_block":           {sql: `DO $$ BEGIN INSERT INTO ro_victim VALUES (6); END $$`},
		"nextval":            {sql: `SELECT nextval('ro_seq') AS v`},
		"for_update":         {sql: `SELECT 1 AS v FROM ro_victim FOR UPDATE`},
		"copy_from":          {sql: `COPY ro_victim FROM PROGRAM 'echo 7'`},
		"predicate_writes":   {sql: `SELECT 1 AS v`, predicate: `WITH w AS (INSERT INTO ro_victim VALUES (8) RETURNING true) SELECT * FROM w`},
		"predicate_multi":    {sql: `SELECT 1 AS v`, predicate: `SET TRANSACTION READ WRITE; INSERT INTO ro_victim VALUES (9); SELECT true`},
	}
	var ins []*collector.Instance
	for name, a := range attempts {
		var preds []string
		if a.predicate != "" {
			preds = []string{a.predicate}
		}
		ins = append(ins, collector.UncheckedCustomInstance(name, a.sql, preds...))
	}
	// SET TRANSACTION READ WRITE alone, first in the transaction, is allowed
	// by the server; it must not carry over to the next query.
	ins = append(ins, collector.UncheckedCustomInstance("set_rw_alone", `SET TRANSACTION READ WRITE`),
		collector.UncheckedCustomInstance("after_set_rw", `INSERT INTO ro_victim VALUES (10) RETURNING 1 AS v`))
	var logs bytes.Buffer
	sc := readOnlyScraper(t, s.SuperuserDSN(""), slog.New(slog.NewTextHandler(&logs, nil)), ins)
	r := sc.Scrape(t)
	if r.One(t, "pg_up", nil) != 1 {
		t.Fatal("pg_up is not 1")
	}
	for name := range attempts {
		if v, ok := r.Value("pg_custom_query_success", map[string]string{"query": name}); !ok || v != 0 {
			t.Errorf("%s: pg_custom_query_success = %v (present %v), want 0", name, v, ok)
		}
	}
	for _, want := range []string{"cannot execute INSERT in a read-only transaction", "cannot insert multiple commands into a prepared statement"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no custom query failed with %q:\n%s", want, logs.String())
		}
	}
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	var called bool
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM ro_victim), (SELECT is_called FROM ro_seq)`).Scan(&n, &called); err != nil {
		t.Fatal(err)
	}
	if n != 0 || called {
		t.Fatalf("custom queries wrote: %d rows in ro_victim, sequence advanced %v", n, called)
	}

	// The server's rule the transaction relies on: once a query ran, a
	// read-only transaction cannot be made read-write.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET TRANSACTION READ ONLY`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `SET TRANSACTION READ WRITE`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25001" {
		t.Fatalf("SET TRANSACTION READ WRITE after a query in a read-only transaction: %v, want SQLSTATE 25001", err)
	}
}

// Session settings a custom query changes (set_config(..., false) lasts for
// the session) are undone with its transaction, so the exporter's
// statement_timeout and read-only default hold for the next queries on the
// same connection.
func TestCustomQueryCannotChangeTheSession(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	change := collector.UncheckedCustomInstance("change_session",
		`SELECT 1 AS v FROM set_config('statement_timeout', '0', false) a, set_config('default_transaction_read_only', 'off', false) b, set_config('lock_timeout', '0', false) c`)
	check := collector.UncheckedCustomInstance("check_session",
		`SELECT (current_setting('statement_timeout') <> '0' AND current_setting('lock_timeout') <> '0' AND current_setting('default_transaction_read_only') = 'on')::int AS v`)
	sc := readOnlyScraper(t, s.SuperuserDSN(""), scrapetest.Logger, []*collector.Instance{change})
	if r := sc.Scrape(t); r.One(t, "change_session_v", nil) != 1 {
		t.Fatal("the query that changes settings did not run")
	}
	sc.Scraper = collector.NewScraper([]*collector.Instance{check}, scrapetest.Logger)
	if r := sc.Scrape(t); r.One(t, "check_session_v", nil) != 1 {
		t.Fatal("a custom query's set_config(..., false) outlived its transaction")
	}
	if n := sc.Target.Pool.Stats().Connects; n != 1 {
		t.Fatalf("%d connections opened; the check must run on the session the change ran on", n)
	}
}

// RESET ALL leaves the role alone (PostgreSQL marks it so): a custom query
// that sets one with set_config('role', ..., false) must not have the next
// queries on the same connection run as that role, seeing less.
func TestCustomQueryCannotChangeTheRole(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	change := collector.UncheckedCustomInstance("change_role", `SELECT 1 AS v FROM set_config('role', 'pg_monitor', false)`)
	check := collector.UncheckedCustomInstance("check_role", `SELECT (current_user = session_user)::int AS v`)
	sc := readOnlyScraper(t, s.SuperuserDSN(""), scrapetest.Logger, []*collector.Instance{change})
	if r := sc.Scrape(t); r.One(t, "change_role_v", nil) != 1 {
		t.Fatal("the query that sets a role did not run")
	}
	sc.Scraper = collector.NewScraper([]*collector.Instance{check}, scrapetest.Logger)
	if r := sc.Scrape(t); r.One(t, "check_role_v", nil) != 1 {
		t.Fatal("a custom query's set_config('role', ..., false) outlived its transaction")
	}
	if n := sc.Target.Pool.Stats().Connects; n != 1 {
		t.Fatalf("%d connections opened; the check must run on the session the change ran on", n)
	}
}

// readOnlyScraper runs ins on one connection to dsn.
func readOnlyScraper(t *testing.T, dsn string, logger *slog.Logger, ins []*collector.Instance) *scrapetest.Scraper {
	t.Helper()
	cfg, err := config.Parse("ro.yml", []byte("connection:\n  max_connections: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	return instancesScraper(t, dsn, cfg, logger, ins)
}

// Read-only does not stop functions whose effect is outside the data, such
// as pg_terminate_backend; the role's privileges do. A pg_monitor role's
// custom query cannot end another role's session.
func TestCustomQueryCannotEndOtherRolesSessions(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	dsn, err := s.CreateMonitorRole(ctx, "ro_monitor", "ro-monitor-pw")
	if err != nil {
		t.Fatal(err)
	}
	victim, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	pid := victim.PgConn().PID()
	var logs bytes.Buffer
	sc := readOnlyScraper(t, dsn, slog.New(slog.NewTextHandler(&logs, nil)), []*collector.Instance{collector.UncheckedCustomInstance("terminate",
		fmt.Sprintf(`SELECT pg_terminate_backend(%d)::int AS v`, pid))})
	r := sc.Scrape(t)
	if v, ok := r.Value("pg_custom_query_success", map[string]string{"query": "terminate"}); !ok || v != 0 {
		t.Errorf("pg_custom_query_success = %v (present %v), want 0", v, ok)
	}
	if !strings.Contains(logs.String(), "terminate") || !strings.Contains(logs.String(), "SQLSTATE 42501") {
		t.Errorf("want a permission error (42501) for the custom query:\n%s", logs.String())
	}
	if err := victim.Ping(ctx); err != nil {
		t.Fatalf("the other role's session was ended: %v", err)
	}
}

// BenchmarkCustomQueryTransaction measures what running a custom query in
// its read-only transaction costs: the query alone on the session (simple
// protocol, as before) against BEGIN READ ONLY, the query through the
// extended protocol, and ROLLBACK, as customCollector runs it.
func BenchmarkCustomQueryTransaction(b *testing.B) {
	s := pgtest.RequireServer(b, srv)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	const sql = `SELECT 1::float8 AS v`
	read := func(rows pgx.Rows, err error) {
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			read(conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol))
		}
	})
	b.Run("read_only_transaction", func(b *testing.B) {
		for b.Loop() {
			tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
			if err != nil {
				b.Fatal(err)
			}
			read(tx.Query(ctx, sql, pgx.QueryExecModeExec))
			if _, err := conn.Exec(ctx, "COMMIT; RESET ALL; RESET ROLE"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
