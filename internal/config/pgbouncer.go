package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// PgBouncer is one PgBouncer whose admin console /metrics reads. Its
// connection string names the admin database "pgbouncer" and a user listed in
// PgBouncer's admin_users or stats_users.
type PgBouncer struct {
	Name       string `yaml:"name"`
	ConnSource `yaml:",inline"`
	// Timeout bounds one scrape of this PgBouncer (connecting included).
	Timeout time.Duration `yaml:"timeout"`

	Line int `yaml:"-"`
}

// DefaultPgBouncerTimeout applies when a PgBouncer sets no timeout; it stays
// under Prometheus's default 10s scrape timeout.
const DefaultPgBouncerTimeout = 5 * time.Second

// UnmarshalYAML decodes one PgBouncer, fills its default timeout (when the
// file leaves it out or sets 0) and records its line.
func (p *PgBouncer) UnmarshalYAML(n *yaml.Node) error {
	type plain PgBouncer
	if err := strictDecode(n, (*plain)(p), "pgbouncers"); err != nil {
		return err
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPgBouncerTimeout
	}
	p.Line = n.Line
	return nil
}

func (c *Config) validatePgBouncers(errs *yamlfile.Errors) {
	add := errs.Add
	seen := map[string]int{}
	for _, p := range c.PgBouncers {
		switch {
		case !targetNameRE.MatchString(p.Name):
			add(p.Line, "pgbouncer name %q must be 1-128 letters, digits, '_', '.', ':' or '-'; it becomes the pgbouncer label", p.Name)
		case seen[p.Name] != 0:
			add(p.Line, "pgbouncer %q is defined twice (first at line %d); give each its own name", p.Name, seen[p.Name])
		default:
			seen[p.Name] = p.Line
		}
		if problem := p.Problem(); problem != "" {
			add(p.Line, "pgbouncer %q %s", p.Name, problem)
		}
		if p.Timeout < 0 {
			add(p.Line, "pgbouncer %q has a negative timeout; use a duration such as 5s, or leave it out for %s", p.Name, DefaultPgBouncerTimeout)
		}
	}
}
