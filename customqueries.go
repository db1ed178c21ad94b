package main

import (
	_ "embed"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// defaultQueries is the shipped queries.yaml, run when no queries file is
// named.
//
//go:embed queries.yaml
var defaultQueries []byte

// noQueries, given as a query path, turns the built-in queries.yaml off.
const noQueries = "none"

// customSources lists the queries.yaml files to load: those named by
// --collector.custom.query-path and the config file's custom_queries, or the
// built-in file when neither names one.
func customSources(flagPaths []string, cfg *config.Config) []collector.CustomSource {
	paths := append(append([]string{}, flagPaths...), cfg.CustomQueries.Paths...)
	if len(paths) == 0 {
		return []collector.CustomSource{{Name: "queries.yaml (built in)", Data: defaultQueries}}
	}
	var out []collector.CustomSource
	for _, p := range paths {
		if p != noQueries {
			out = append(out, collector.CustomSource{Name: p})
		}
	}
	return out
}
