package config

import (
	"regexp"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Pool is one service's connection pool as the server sees it: the sessions
// it opens are recognised by application_name (exactly or by an anchored
// regular expression), optionally narrowed to one user and one database.
type Pool struct {
	Name                 string `yaml:"name"`
	ApplicationName      string `yaml:"application_name"`
	ApplicationNameRegex string `yaml:"application_name_regex"`
	User                 string `yaml:"user"`
	Database             string `yaml:"database"`
	MinConnections       int    `yaml:"min_connections"`
	MaxConnections       int    `yaml:"max_connections"`

	Line int `yaml:"-"`

	re *regexp.Regexp
}

// UnmarshalYAML records the line of each pool.
func (p *Pool) UnmarshalYAML(n *yaml.Node) error {
	type plain Pool
	if err := strictDecode(n, (*plain)(p), "pools"); err != nil {
		return err
	}
	p.Line = n.Line
	return nil
}

// Matches reports whether a session with this application_name, user and
// database belongs to the pool.
func (p *Pool) Matches(app, user, db string) bool {
	if p.User != "" && p.User != user {
		return false
	}
	if p.Database != "" && p.Database != db {
		return false
	}
	if p.re != nil {
		return p.re.MatchString(app)
	}
	return p.ApplicationName == app
}

// MatchPool returns the index of the first pool a session belongs to, or -1.
// Pools are tried in the order of the file, so a specific pool listed before
// a broad pattern takes its sessions.
func MatchPool(pools []Pool, app, user, db string) int {
	for i := range pools {
		if pools[i].Matches(app, user, db) {
			return i
		}
	}
	return -1
}

// Activity tunes the collectors that read pg_stat_activity.
type Activity struct {
	// LongTransactionThreshold is the age past which a transaction counts as
	// long-running (pg_long_running_transactions). 0 means the default, 30s.
	LongTransactionThreshold time.Duration `yaml:"long_transaction_threshold"`
	// MaxLabelSets bounds the series of per-session breakdowns (connections
	// by database/user/application/state/wait, SSL by database/user, sessions
	// outside every pool by application): the largest groups keep their
	// labels, the rest are added up under the value "__other__". 0 means the
	// default, 100.
	MaxLabelSets int `yaml:"max_label_sets"`
	// MaxWaitEvents bounds the series of active sessions by database and
	// wait event: the most common keep their labels, the rest are added up
	// under "__other__". 0 means the default, 20.
	MaxWaitEvents int `yaml:"max_wait_events"`
}

// Defaults of the activity section.
const (
	DefaultLongTransactionThreshold = 30 * time.Second
	DefaultMaxLabelSets             = 100
	DefaultMaxWaitEvents            = 20
)

// withDefaults fills the settings the file leaves out or sets to 0.
func (a Activity) withDefaults() Activity {
	if a.LongTransactionThreshold == 0 {
		a.LongTransactionThreshold = DefaultLongTransactionThreshold
	}
	if a.MaxLabelSets == 0 {
		a.MaxLabelSets = DefaultMaxLabelSets
	}
	if a.MaxWaitEvents == 0 {
		a.MaxWaitEvents = DefaultMaxWaitEvents
	}
	return a
}

// UnmarshalYAML decodes the section and fills its defaults.
func (a *Activity) UnmarshalYAML(n *yaml.Node) error {
	type plain Activity
	if err := strictDecode(n, (*plain)(a), "config.Activity"); err != nil {
		return err
	}
	*a = a.withDefaults()
	return nil
}

var poolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,63}$`)

// validatePools checks the pools and activity sections and compiles the
// pools' patterns.
func (c *Config) validatePools(errs *yamlfile.Errors) {
	add := errs.Add
	seen := map[string]int{}
	for i := range c.Pools {
		p := &c.Pools[i]
		switch {
		case !poolNameRE.MatchString(p.Name):
			add(p.Line, "pool name %q must be 1-63 letters, digits, '_', '.', ':' or '-'", p.Name)
		case seen[p.Name] != 0:
			add(p.Line, "pool %q is defined twice (first at line %d); give each pool its own name", p.Name, seen[p.Name])
		default:
			seen[p.Name] = p.Line
		}
		switch {
		case p.ApplicationName == "" && p.ApplicationNameRegex == "":
			add(p.Line, "pool %q needs application_name or application_name_regex to recognise its sessions", p.Name)
		case p.ApplicationName != "" && p.ApplicationNameRegex != "":
			add(p.Line, "pool %q sets both application_name and application_name_regex; keep one", p.Name)
		case p.ApplicationNameRegex != "":
			re, err := regexp.Compile("^(?:" + p.ApplicationNameRegex + ")$")
			if err != nil {
				add(p.Line, "pool %q: application_name_regex %q is not a valid regular expression (%v); fix the pattern", p.Name, p.ApplicationNameRegex, err)
			}
			p.re = re
		}
		if p.MaxConnections < 1 {
			add(p.Line, "pool %q has max_connections %d; set it to the pool's size, 1 or more", p.Name, p.MaxConnections)
		}
		if p.MinConnections < 0 || p.MinConnections > p.MaxConnections {
			add(p.Line, "pool %q has min_connections %d; use 0 to max_connections (%d)", p.Name, p.MinConnections, p.MaxConnections)
		}
	}
	a := c.Activity
	if a.LongTransactionThreshold < 0 {
		add(errs.Line("activity", "long_transaction_threshold"), "activity.long_transaction_threshold must not be negative; use a duration such as 30s")
	}
	if a.MaxLabelSets < 0 || a.MaxLabelSets > 10000 {
		add(errs.Line("activity", "max_label_sets"), "activity.max_label_sets is %d; use 1 to 10000 (0 means the default %d)", a.MaxLabelSets, DefaultMaxLabelSets)
	}
	if a.MaxWaitEvents < 0 || a.MaxWaitEvents > 10000 {
		add(errs.Line("activity", "max_wait_events"), "activity.max_wait_events is %d; use 1 to 10000 (0 means the default %d)", a.MaxWaitEvents, DefaultMaxWaitEvents)
	}
}
