package collector_test

import (
	"os"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// srv is the PostgreSQL cluster every integration test in this package uses.
var srv *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{Conf: []string{
		"shared_preload_libraries = 'pg_stat_statements'",
		"track_io_timing = on",
		"max_prepared_transactions = 10",
	}}, &srv))
}
