package config

import (
	"strings"
	"testing"
	"time"
)

func TestPgBouncersAndCustomQueries(t *testing.T) {
	cfg, err := Parse("c.yml", []byte(`
pgbouncers:
  - name: pool1
    dsn: postgres://exporter@10.0.0.5:6432/pgbouncer
    timeout: 2s
  - name: pool2
    timeout: 0s
    dsn_file: /etc/pool2.dsn
    password_file: /run/secrets/pool2
custom_queries: [a.yaml, b.yaml.gz]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PgBouncers) != 2 || cfg.PgBouncers[0].Timeout != 2*time.Second || cfg.PgBouncers[1].Timeout != DefaultPgBouncerTimeout {
		t.Errorf("pgbouncers = %+v", cfg.PgBouncers)
	}
	if strings.Join(cfg.CustomQueries.Paths, ",") != "a.yaml,b.yaml.gz" || cfg.CustomQueries.Line != 10 {
		t.Errorf("custom_queries = %+v", cfg.CustomQueries)
	}
}

func TestPgBouncersAndCustomQueriesErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"pgbouncers:\n  - name: a\n    dsn: x\n  - name: a\n    dsn: y\n", `c.yml:4: pgbouncer "a" is defined twice (first at line 2)`},
		{"pgbouncers:\n  - name: 'bad name'\n    dsn: x\n", `c.yml:2: pgbouncer name "bad name" must be`},
		{"pgbouncers:\n  - name: a\n", `c.yml:2: pgbouncer "a" needs exactly one of dsn, dsn_file and dsn_env`},
		{"pgbouncers:\n  - name: a\n    dsn: x\n    dsn_env: Y\n", `c.yml:2: pgbouncer "a" needs exactly one of`},
		{"pgbouncers:\n  - name: a\n    dsn: x\n    timeout: -1s\n", `c.yml:2: pgbouncer "a" has a negative timeout`},
		{"pgbouncers:\n  - name: a\n    dsn: x\n    passwd: y\n", `c.yml:4: unknown key "passwd" in pgbouncers`},
		{"custom_queries: a.yaml\n", "c.yml:1: custom_queries must be a list of file paths"},
		{"custom_queries: ['']\n", "c.yml:1: custom_queries holds an empty path"},
	} {
		_, err := Parse("c.yml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}
