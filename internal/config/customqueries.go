package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// QueryFiles lists queries.yaml files of user-defined SQL collectors.
type QueryFiles struct {
	Paths []string
	Line  int
}

// UnmarshalYAML accepts a list of paths and records its line.
func (q *QueryFiles) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: custom_queries must be a list of file paths, e.g. [queries.yaml]", n.Line)}}
	}
	if err := n.Decode(&q.Paths); err != nil {
		return err
	}
	q.Line = n.Line
	return nil
}

func (c *Config) validateCustomQueries(errs *yamlfile.Errors) {
	for _, p := range c.CustomQueries.Paths {
		if p == "" {
			errs.Add(c.CustomQueries.Line, "custom_queries holds an empty path; name a queries.yaml file or remove the entry")
		}
	}
}
