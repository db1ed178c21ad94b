package collector_test

import (
	"context"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// A CHECKPOINT after writing data shows up under the same metric names on
// every version, WAL and I/O statistics where the server has them.
func TestCheckpointWALAndIOCounters(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "iotest"); err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "bgwriter", "wal", "stat_io")
	r0 := sc.Scrape(t)
	r0.RequireUp(t)
	if err := s.Exec(ctx, "iotest", "DROP TABLE IF EXISTS io",
		"CREATE TABLE io AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 20000) g",
		"CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	req0, _ := r0.Value("pg_stat_bgwriter_checkpoints_req_total", nil)
	buf0, _ := r0.Value("pg_stat_bgwriter_buffers_checkpoint_total", nil)
	r, ok := scrapeUntil(t, sc, func(r families.Result) bool {
		req, _ := r.Value("pg_stat_bgwriter_checkpoints_req_total", nil)
		buf, _ := r.Value("pg_stat_bgwriter_buffers_checkpoint_total", nil)
		return req > req0 && buf > buf0
	})
	if !ok {
		t.Fatalf("CHECKPOINT not counted on %d:\n%s%s", s.Major, r.String("pg_stat_bgwriter_checkpoints_req_total"), r.String("pg_stat_bgwriter_buffers_checkpoint_total"))
	}
	if _, ok := r.Value("pg_stat_bgwriter_buffers_alloc_total", nil); !ok {
		t.Error("no buffers_alloc")
	}
	_, restartpoints := r.Value("pg_stat_checkpointer_restartpoints_done_total", nil)
	if restartpoints != (s.Major >= 17) {
		t.Errorf("restartpoint counters present %v on %d; pg_stat_checkpointer has them from 17", restartpoints, s.Major)
	}
	if done, ok := r.Value("pg_stat_checkpointer_checkpoints_done_total", nil); ok != (s.Major >= 18) || ok && done < 1 {
		t.Errorf("completed checkpoints %v (present %v) on %d after a CHECKPOINT; counted from 18", done, ok, s.Major)
	}
	_, backend := r.Value("pg_stat_bgwriter_buffers_backend_total", nil)
	if backend != (s.Major <= 16) {
		t.Errorf("buffers_backend present %v on %d; it exists up to 16", backend, s.Major)
	}

	_, wal := r.Value("pg_stat_wal_bytes_total", nil)
	if wal != (s.Major >= 14) {
		t.Fatalf("pg_stat_wal present %v on %d; it exists from 14", wal, s.Major)
	}
	if wal {
		b0, _ := r0.Value("pg_stat_wal_bytes_total", nil)
		if r, ok := scrapeUntil(t, sc, func(r families.Result) bool { b, _ := r.Value("pg_stat_wal_bytes_total", nil); return b > b0+2e6 }); !ok {
			t.Errorf("2 MB table written, WAL bytes went from %v:\n%s", b0, r.String("pg_stat_wal_bytes_total"))
		}
		_, writes := r.Value("pg_stat_wal_write_total", nil)
		if writes != (s.Major <= 17) {
			t.Errorf("pg_stat_wal_write_total present %v on %d; 18 moved it to pg_stat_io", writes, s.Major)
		}
	}

	_, io := r["pg_stat_io_writes_total"]
	if io != (s.Major >= 16) {
		t.Fatalf("pg_stat_io present %v on %d; it exists from 16", io, s.Major)
	}
	if io {
		ckpt := map[string]string{"backend_type": "checkpointer", "object": "relation", "context": "normal"}
		writes, _ := r.Value("pg_stat_io_writes_total", ckpt)
		bytes, _ := r.Value("pg_stat_io_write_bytes_total", ckpt)
		if writes == 0 || bytes != writes*8192 {
			t.Errorf("checkpointer wrote %v blocks, %v bytes; want more than 0 blocks of 8192 bytes", writes, bytes)
		}
		// The checkpointer never reads relation blocks: the view has NULL there, left out.
		if _, ok := r.Value("pg_stat_io_reads_total", ckpt); ok {
			t.Error("an operation the view marks impossible (NULL) is reported")
		}
	}
}
