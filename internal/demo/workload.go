package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// prepareDatabase creates the app database with an example lead-routing
// schema, the exporter's role (pg_monitor, plus read access so the shipped
// queries.yaml sees its tables) and the application's role.
func (r *run) prepareDatabase(ctx context.Context) error {
	s := r.pg
	if err := s.CreateDatabase(ctx, "app"); err != nil {
		return err
	}
	if err := s.Exec(ctx, "app", schema...); err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}
	grants := []string{
		`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`,
		`CREATE ROLE exporter LOGIN PASSWORD 'exporterpw' IN ROLE pg_monitor`,
		`CREATE ROLE app LOGIN PASSWORD 'apppw'`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO exporter`,
	}
	return s.Exec(ctx, "app", grants...)
}

// startWorkload creates the conditions the demo's alerts watch for, and keeps
// them until ctx ends.
func (r *run) startWorkload(ctx context.Context) error {
	appDSN := r.pg.DSN("app", "apppw", "app")
	connect := func(appName string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(appDSN)
		if err != nil {
			return nil, err
		}
		cfg.RuntimeParams["application_name"] = appName
		return pgx.ConnectConfig(ctx, cfg)
	}

	// 20 000 dead tuples on leads, whose autovacuum is off.
	if err := r.pg.Exec(ctx, "app", `UPDATE leads SET updated_at = now() WHERE id <= 20000`); err != nil {
		return err
	}
	r.say("demo: workload: 20 000 dead tuples in public.leads")

	// 15 of the api pool's 20 connections: 75 % against the 70 % alert threshold.
	for i := 0; i < 15; i++ {
		c, err := connect("api")
		if err != nil {
			return err
		}
		r.closeOnDone(ctx, c)
	}
	r.say("demo: workload: 15 sessions of the api pool (max 20)")

	// A background job that took a row lock and went idle in its transaction,
	// and a data-service session that waits for that row.
	holder, err := connect("background-jobs")
	if err != nil {
		return err
	}
	r.closeOnDone(ctx, holder)
	if _, err := holder.Exec(ctx, `BEGIN`); err != nil {
		return err
	}
	if _, err := holder.Exec(ctx, `UPDATE agents SET current_lead_count = current_lead_count WHERE id = 1`); err != nil {
		return err
	}
	waiter, err := connect("data-service")
	if err != nil {
		return err
	}
	go func() {
		_, _ = waiter.Exec(ctx, `UPDATE agents SET current_lead_count = current_lead_count + 1 WHERE id = 1`)
		closeConn(waiter)
	}()
	r.say("demo: workload: a session idle in its transaction, holding a row another session waits for")

	// Statements: fast ones, and one over the 500 ms slow-query threshold
	// every second, enough to stay a slow share above 5 % beside the
	// statements of the exporter itself (which pg_stat_statements counts too).
	worker, err := connect("analytics")
	if err != nil {
		return err
	}
	go func() {
		defer closeConn(worker)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n++
			q := `SELECT count(*) FROM leads WHERE status = 'ROUTED' AND deleted_at IS NULL`
			if n%3 == 0 {
				q = `SELECT pg_sleep(0.6)`
			}
			if _, err := worker.Exec(ctx, q); err != nil && ctx.Err() == nil {
				r.say("demo: workload statement failed: %v", err)
			}
		}
	}()
	r.say("demo: workload: fast statements twice a second, a 600 ms one every second")

	// PgBouncer with one server connection: one client holds it, a second waits.
	if r.pgb != nil {
		bdsn := r.pgb.DSN("app", "apppw", "app")
		holderB, err := pgx.Connect(ctx, bdsn)
		if err != nil {
			return fmt.Errorf("connecting through PgBouncer: %w", err)
		}
		r.closeOnDone(ctx, holderB)
		if _, err := holderB.Exec(ctx, `BEGIN; SELECT 1`); err != nil {
			return err
		}
		go func() {
			c, err := pgx.Connect(ctx, bdsn)
			if err != nil {
				return
			}
			defer closeConn(c)
			_, _ = c.Exec(ctx, `SELECT 1`)
		}()
		r.say("demo: workload: a PgBouncer client waiting for the pool's only server connection")
	}
	return nil
}

func (r *run) closeOnDone(ctx context.Context, c *pgx.Conn) {
	go func() {
		<-ctx.Done()
		closeConn(c)
	}()
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}
