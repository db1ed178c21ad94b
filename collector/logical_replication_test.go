package collector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// A publisher and a subscriber of their own, both with wal_level=logical:
// the subscriber's subscription, its tables and its origin, the publisher's
// logical slot statistics, through an initial copy, a conflicting row on each
// path (apply and table sync), and a disabled subscription. Scraped as a
// pg_monitor-only role, and as a superuser where PostgreSQL grants a view to
// superusers only.
func TestLogicalReplication(t *testing.T) {
	pgtest.RequireServer(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conf := []string{"wal_level = logical", "wal_retrieve_retry_interval = '200ms'", "logical_decoding_work_mem = '64kB'"}
	pub := pgtest.StartT(t, pgtest.Options{Conf: conf})
	sub := pgtest.StartT(t, pgtest.Options{Conf: conf})
	major := pub.Major
	for _, s := range []*pgtest.Server{pub, sub} {
		if err := s.CreateDatabase(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
	}
	tables := []string{"CREATE TABLE orders (id int PRIMARY KEY, note text)", "CREATE TABLE items (id int PRIMARY KEY, note text)"}
	if err := pub.Exec(ctx, "shop", append(tables,
		"INSERT INTO orders SELECT g, 'o' FROM generate_series(1, 100) g",
		"INSERT INTO items SELECT g, 'i' FROM generate_series(1, 100) g",
		"CREATE PUBLICATION shop_pub FOR TABLE orders, items")...); err != nil {
		t.Fatal(err)
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d dbname=shop user=postgres password=%s", pub.Port, pub.SuperuserPassword())
	if err := sub.Exec(ctx, "shop", append(tables,
		"CREATE SUBSCRIPTION shop_sub CONNECTION '"+conninfo+"' PUBLICATION shop_pub")...); err != nil {
		t.Fatal(err)
	}
	subMon, err := sub.CreateMonitorRole(ctx, "logical_monitor", "logicalpw")
	if err != nil {
		t.Fatal(err)
	}
	pubMon, err := pub.CreateMonitorRole(ctx, "logical_monitor", "logicalpw")
	if err != nil {
		t.Fatal(err)
	}
	collectors := []string{"subscriptions", "subscription_tables", "replication_origins", "replication_slots", "replication_slot_stats"}
	onSub := scrapetest.New(t, subMon, nil, collectors...)
	onSubSuper := scrapetest.New(t, sub.SuperuserDSN(""), nil, collectors...)
	onPub := scrapetest.New(t, pubMon, nil, collectors...)
	shop := map[string]string{"datname": "shop", "subname": "shop_sub"}
	with := func(extra ...string) map[string]string {
		m := map[string]string{"datname": "shop", "subname": "shop_sub"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	value := func(r families.Result, name string, labels map[string]string) float64 {
		v, _ := r.Value(name, labels)
		return v
	}

	t.Run("initial copy", func(t *testing.T) {
		r := waitFor(t, onSub, "both tables ready and the apply worker running", func(r families.Result) bool {
			return value(r, "pg_subscription_tables", with("state", "ready")) == 2 &&
				value(r, "pg_subscription_workers", with("worker_type", "apply")) == 1
		})
		if v := mustValue(t, r, "pg_subscription_enabled", shop); v != 1 {
			t.Errorf("enabled = %v", v)
		}
		if _, ok := r["pg_subscription_table_not_ready"]; ok {
			t.Errorf("tables reported not ready after the copy:\n%s", r.String("pg_subscription_table_not_ready"))
		}
		if v := mustValue(t, r, "pg_subscription_last_msg_receipt_timestamp_seconds", shop); v < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Errorf("last message received at %v, more than a minute ago", v)
		}
		// Table sync workers add an origin each while they run.
		if v := mustValue(t, r, "pg_replication_origins", nil); v < 1 {
			t.Errorf("replication origins = %v, want at least the subscription's one", v)
		}
		// pg_monitor may not read pg_replication_origin_status: said, not faked.
		if v := mustValue(t, r, "pg_replication_origin_status_readable", nil); v != 0 {
			t.Errorf("origin status readable = %v for a pg_monitor-only role", v)
		}
		if _, ok := r["pg_replication_origin_remote_position_bytes"]; ok {
			t.Error("origin progress reported without the privilege to read it")
		}
		_, stats := r["pg_subscription_apply_errors_total"]
		if stats != (major >= 15) {
			t.Errorf("apply error counts present %v on %d; pg_stat_subscription_stats exists from 15", stats, major)
		}
		if major < 14 {
			if _, ok := r.Value("pg_subscription_tables", with("state", "finished_copy")); ok {
				t.Error("finished_copy reported on 13, which has no such state")
			}
		}
	})

	t.Run("decoding and progress", func(t *testing.T) {
		if err := pub.Exec(ctx, "shop", "INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(1000, 6000) g"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onSubSuper, "the big transaction applied and the origin advanced", func(r families.Result) bool {
			return value(r, "pg_replication_origin_status_readable", nil) == 1 &&
				len(r.Values("pg_replication_origin_remote_position_bytes", nil)) == 1 &&
				value(r, "pg_subscription_workers", with("worker_type", "apply")) == 1
		})
		conn, err := sub.Connect(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		deadline := time.Now().Add(30 * time.Second)
		for n != 5101 && time.Now().Before(deadline) {
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
				t.Fatal(err)
			}
			sleep(100)
		}
		if n != 5101 {
			t.Fatalf("subscriber has %d items, want 5101", n)
		}
		s := onSubSuper.Scrape(t)
		if v := s.Values("pg_replication_origin_remote_position_bytes", nil); len(v) != 1 || v[0] <= 0 {
			t.Errorf("origin progress: %v", v)
		}
		// The documented grants give a pg_monitor role the progress too, from
		// 14; 13 lets only superusers read replication origins.
		if major >= 14 {
			if err := sub.Exec(ctx, "", "GRANT SELECT ON pg_replication_origin_status TO logical_monitor",
				"GRANT EXECUTE ON FUNCTION pg_show_replication_origin_status() TO logical_monitor", "SELECT pg_reload_conf()"); err != nil {
				t.Fatal(err)
			}
			// The refusal remembered is forgotten when the settings are
			// read again after the reload.
			r := waitFor(t, onSub, "origin status readable after the grants and a reload", func(r families.Result) bool {
				return value(r, "pg_replication_origin_status_readable", nil) == 1
			})
			if len(r.Values("pg_replication_origin_remote_position_bytes", nil)) != 1 {
				t.Errorf("origin progress missing after the grants:\n%s", r.String("pg_replication_origin_remote_position_bytes"))
			}
		}

		p := onPub.Scrape(t)
		p.RequireUp(t)
		slot := map[string]string{"slot_name": "shop_sub"}
		if v := mustValue(t, p, "pg_replication_slot_active", map[string]string{"slot_name": "shop_sub", "slot_type": "logical", "database": "shop"}); v != 1 {
			t.Errorf("the subscription's slot active = %v", v)
		}
		_, ok := p["pg_stat_replication_slots_decoded_txns_total"]
		if ok != (major >= 14) {
			t.Fatalf("slot statistics present %v on %d; pg_stat_replication_slots exists from 14", ok, major)
		}
		if ok {
			// A transaction larger than logical_decoding_work_mem is spilled to
			// disk, or streamed where the subscription streams (18's default).
			p = waitFor(t, onPub, "the big transaction spilled or streamed", func(r families.Result) bool {
				return value(r, "pg_stat_replication_slots_spill_bytes_total", slot)+value(r, "pg_stat_replication_slots_stream_bytes_total", slot) > 1<<20
			})
			if v := mustValue(t, p, "pg_stat_replication_slots_decoded_bytes_total", map[string]string{"slot_name": "shop_sub", "database": "shop"}); v < 1<<20 {
				t.Errorf("decoded bytes = %v after a 1 MB transaction", v)
			}
		}
	})

	t.Run("apply error", func(t *testing.T) {
		if err := sub.Exec(ctx, "shop", "INSERT INTO orders VALUES (5000, 'local')"); err != nil {
			t.Fatal(err)
		}
		if err := pub.Exec(ctx, "shop", "INSERT INTO orders VALUES (5000, 'remote')"); err != nil {
			t.Fatal(err)
		}
		if major >= 15 {
			r := waitFor(t, onSub, "an apply error counted", func(r families.Result) bool {
				return value(r, "pg_subscription_apply_errors_total", shop) >= 1
			})
			if major >= 18 {
				if v := mustValue(t, r, "pg_subscription_conflicts_total", with("conflict", "insert_exists")); v < 1 {
					t.Errorf("insert_exists conflicts = %v", v)
				}
			}
		}
		if err := sub.Exec(ctx, "shop", "DELETE FROM orders WHERE id = 5000"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onSub, "the apply worker running again", func(r families.Result) bool {
			return value(r, "pg_subscription_workers", with("worker_type", "apply")) == 1
		})
	})

	t.Run("table sync error", func(t *testing.T) {
		if err := pub.Exec(ctx, "shop", "CREATE TABLE parts (id int PRIMARY KEY)", "INSERT INTO parts VALUES (1), (2)",
			"ALTER PUBLICATION shop_pub ADD TABLE parts"); err != nil {
			t.Fatal(err)
		}
		if err := sub.Exec(ctx, "shop", "CREATE TABLE parts (id int PRIMARY KEY)", "INSERT INTO parts VALUES (2)",
			"ALTER SUBSCRIPTION shop_sub REFRESH PUBLICATION"); err != nil {
			t.Fatal(err)
		}
		r := waitFor(t, onSub, "the conflicting table not ready", func(r families.Result) bool {
			ok := len(r.Values("pg_subscription_table_not_ready", nil)) == 1
			if major >= 15 {
				ok = ok && value(r, "pg_subscription_sync_errors_total", shop) >= 1
			}
			return ok
		})
		if _, ok := r.Value("pg_subscription_table_not_ready", with("schemaname", "public", "relname", "parts")); !ok {
			t.Errorf("the not-ready table is not public.parts:\n%s", r.String("pg_subscription_table_not_ready"))
		}
		ready := mustValue(t, r, "pg_subscription_tables", with("state", "ready"))
		if ready != 2 {
			t.Errorf("ready tables = %v, want 2", ready)
		}
		if notReady := r.Sum("pg_subscription_tables", shop) - ready; notReady != 1 {
			t.Errorf("tables in other states add up to %v, want 1:\n%s", notReady, r.String("pg_subscription_tables"))
		}
		// With no room for names, the counts by state stay exact.
		capped := scrapetest.New(t, subMon, parseConfig(t, "objects:\n  schema:\n    max_objects: 0\n"), "subscription_tables").Scrape(t)
		capped.RequireUp(t)
		if _, ok := capped["pg_subscription_table_not_ready"]; ok {
			t.Errorf("tables named with objects.schema.max_objects 0:\n%s", capped.String("pg_subscription_table_not_ready"))
		}
		if v := capped.Sum("pg_subscription_tables", shop); v != 3 {
			t.Errorf("tables counted with no names: %v, want 3", v)
		}
		if err := sub.Exec(ctx, "shop", "DELETE FROM parts"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, onSub, "all three tables ready", func(r families.Result) bool {
			return value(r, "pg_subscription_tables", with("state", "ready")) == 3
		})
	})

	t.Run("same name in another database", func(t *testing.T) {
		if err := sub.CreateDatabase(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		// connect = false: no slot on the publisher, disabled, no tables.
		if err := sub.Exec(ctx, "other", "CREATE SUBSCRIPTION shop_sub CONNECTION '"+conninfo+"' PUBLICATION shop_pub WITH (connect = false)"); err != nil {
			t.Fatal(err)
		}
		other := map[string]string{"datname": "other", "subname": "shop_sub"}
		r := onSub.Scrape(t)
		r.RequireUp(t)
		if v := mustValue(t, r, "pg_subscription_enabled", other); v != 0 {
			t.Errorf("the other database's subscription enabled = %v", v)
		}
		if v := mustValue(t, r, "pg_subscription_tables", with("state", "ready")); v != 3 {
			t.Errorf("shop's ready tables = %v with a same-named subscription elsewhere", v)
		}
		if v := r.Sum("pg_subscription_tables", other); v != 0 {
			t.Errorf("the other database's subscription has %v tables, want 0", v)
		}
		apply := map[string]string{"subname": "shop_sub", "worker_type": "apply"}
		if major >= 14 {
			if v := mustValue(t, r, "pg_subscription_workers", with("worker_type", "apply")); v != 1 {
				t.Errorf("shop's apply workers = %v", v)
			}
			if v := r.Sum("pg_subscription_workers", apply); v != 1 {
				t.Errorf("apply workers of both subscriptions add up to %v, want 1", v)
			}
		} else if n := len(r.Values("pg_subscription_workers", apply)); n != 0 {
			// 13 matches workers by name: an ambiguous name gets none.
			t.Errorf("%d apply worker series for a name used in two databases on 13", n)
		}
		// Without a slot of its own, DROP would drop shop's slot on the publisher.
		if err := sub.Exec(ctx, "other", "ALTER SUBSCRIPTION shop_sub SET (slot_name = NONE)", "DROP SUBSCRIPTION shop_sub"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		if err := sub.Exec(ctx, "shop", "ALTER SUBSCRIPTION shop_sub DISABLE"); err != nil {
			t.Fatal(err)
		}
		r := waitFor(t, onSub, "the disabled subscription without workers", func(r families.Result) bool {
			return value(r, "pg_subscription_enabled", shop) == 0 &&
				value(r, "pg_subscription_workers", with("worker_type", "apply")) == 0
		})
		if _, ok := r.Value("pg_subscription_last_msg_receipt_timestamp_seconds", shop); ok {
			t.Error("a last-message time reported without an apply worker")
		}
		waitFor(t, onPub, "the publisher's logical slot inactive", func(r families.Result) bool {
			v, ok := r.Value("pg_replication_slot_active", map[string]string{"slot_name": "shop_sub", "slot_type": "logical"})
			return ok && v == 0
		})
	})
}
