package mixin

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Config is everything a user can change about the rule pack. Alert
// thresholds live in Alerts, keyed by alert name; anything left out keeps the
// default from the alert's definition.
type Config struct {
	// Selectors are added to every metric selector, e.g. job="postgres".
	Selectors Selectors `yaml:"selectors"`
	// AggregationLabels identify one server in every "by" clause.
	AggregationLabels []string `yaml:"aggregation_labels"`
	// RoutingLabels are target labels that Alertmanager routes on (cluster,
	// env, team, ...): every aggregation keeps them beside the aggregation
	// labels, so each recording rule and alert of a target carries them.
	RoutingLabels []string `yaml:"routing_labels"`
	// ClusterLabel groups a primary with its replicas (split-brain detection);
	// series without it are never compared.
	ClusterLabel string `yaml:"cluster_label"`
	// RunbookURL is the base of every runbook_url; <AlertName>.md is appended.
	RunbookURL string `yaml:"runbook_url"`
	// SLO sets the objectives of the burn-rate alerts.
	SLO SLO `yaml:"slo"`
	// Alerts overrides per-alert durations and thresholds.
	Alerts map[string]AlertConfig `yaml:"alerts"`
}

// Selectors are label matchers, without braces; empty adds none.
type Selectors struct {
	Postgres string `yaml:"postgres"`
	// PgBouncer is empty by default: the pgbouncer_ names are specific enough,
	// and they reach Prometheus from whichever job scrapes the exporter (or
	// pgbouncer_exporter, whose names they keep).
	PgBouncer string `yaml:"pgbouncer"`
	// Backup is empty by default for the same reason: only this exporter
	// serves pg_backup_ names, under whichever job scrapes its /metrics
	// (postgres when scraped directly, its own job beside /probe).
	Backup string `yaml:"backup"`
	// Exporter is empty by default too: the exporter's own series
	// (pg_exporter_*) say whose they are, so the self-monitoring alerts
	// find the exporter whatever its job is called (postgres when scraped
	// directly, pg_hardening_exporter beside /probe, or anything else).
	Exporter string `yaml:"exporter"`
}

// SLO holds the objectives. The latency objectives are fixed to the 0.1 s and
// 0.5 s histogram buckets; what is configurable is the share of calls that
// must be faster.
type SLO struct {
	Availability float64  `yaml:"availability"`
	LatencyP95   float64  `yaml:"latency_p95"`
	LatencyP99   float64  `yaml:"latency_p99"`
	PageFor      Duration `yaml:"page_for"`
	TicketFor    Duration `yaml:"ticket_for"`
}

// AlertConfig overrides one alert's defaults. A tier that the alert does not
// have cannot be set.
type AlertConfig struct {
	Disabled bool      `yaml:"disabled"`
	For      *Duration `yaml:"for"`
	Info     *Value    `yaml:"info"`
	Warning  *Value    `yaml:"warning"`
	Critical *Value    `yaml:"critical"`
	// Min is the guard: the least traffic, size or rate below which the
	// alert stays silent (see each alert's help).
	Min *Value `yaml:"min"`
	// Plan is an absolute capacity figure (connections, bytes, statements
	// per second) a forecast also alerts on; unset by default, the forecasts
	// compare with each server's own limits.
	Plan *Value `yaml:"plan"`
}

// Duration is a Prometheus duration ("5m", "1d").
type Duration model.Duration

// UnmarshalYAML parses a Prometheus duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := model.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration; write it like 30s, 5m, 1h or 1d", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return model.Duration(d).String() }

// MarshalYAML writes the Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Value is a threshold: a number, or a duration that stands for seconds.
type Value float64

// UnmarshalYAML accepts 0.8, 10000, 1.5e9 or 24h.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			*v = Value(f)
			return nil
		}
		if d, err := model.ParseDuration(n.Value); err == nil {
			*v = Value(time.Duration(d).Seconds())
			return nil
		}
	}
	return fmt.Errorf("line %d: %q is not a number or a duration; write a number (0.8, 10000) or a duration for seconds (30s, 24h)", n.Line, n.Value)
}

// Defaults is the configuration the committed rules/ are rendered from.
func Defaults() *Config {
	return &Config{
		Selectors:         Selectors{Postgres: `job="postgres"`},
		AggregationLabels: []string{"job", "instance"},
		RoutingLabels:     []string{"cluster"},
		ClusterLabel:      "cluster",
		RunbookURL:        "https://github.com/pghardening/pg_hardening_exporter/blob/main/docs/runbooks",
		SLO: SLO{
			Availability: 0.999, LatencyP95: 0.95, LatencyP99: 0.99,
			PageFor: Duration(2 * time.Minute), TicketFor: Duration(15 * time.Minute),
		},
		Alerts: map[string]AlertConfig{},
	}
}

// Load reads a configuration file over the defaults (an empty path gives the
// defaults). Errors name the file and line.
func Load(path string) (*Config, error) {
	data, err := yamlfile.ReadFile(path, "the mixin configuration")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) over the defaults and validates it.
func Parse(name string, data []byte) (*Config, error) {
	c := Defaults()
	if err := yamlfile.Parse(name, data, c, fileNames, c.validate); err != nil {
		return nil, err
	}
	return c, nil
}

// fileNames are the words the mixin configuration's errors use.
var fileNames = yamlfile.Names{
	Section: func(goType string) string {
		switch goType {
		case "mixin.Config":
			return "the top level"
		case "mixin.Selectors":
			return "selectors"
		case "mixin.SLO":
			return "slo"
		case "mixin.AlertConfig":
			return "an alert's settings"
		}
		return strings.TrimPrefix(goType, "mixin.")
	},
	Doc: "examples/mixin.yml",
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (c *Config) validate(errs *yamlfile.Errors) {
	add := errs.Add
	for _, s := range []struct{ key, val string }{{"postgres", c.Selectors.Postgres}, {"pgbouncer", c.Selectors.PgBouncer}, {"backup", c.Selectors.Backup}, {"exporter", c.Selectors.Exporter}} {
		if err := checkSelector(s.val); err != nil {
			add(errs.Line("selectors", s.key), "selectors.%s %q: %v; write label matchers without braces, e.g. job=\"postgres\"", s.key, s.val, err)
		}
	}
	if len(c.AggregationLabels) == 0 {
		add(errs.Line("aggregation_labels"), "aggregation_labels is empty; list the labels that identify one server, e.g. [job, instance]")
	}
	for _, l := range c.AggregationLabels {
		if !labelName.MatchString(l) {
			add(errs.Line("aggregation_labels"), "aggregation_labels: %q is not a label name; use letters, digits and underscores", l)
		}
	}
	seen := map[string]bool{}
	for _, l := range c.AggregationLabels {
		seen[l] = true
	}
	for _, l := range c.RoutingLabels {
		switch {
		case !labelName.MatchString(l):
			add(errs.Line("routing_labels"), "routing_labels: %q is not a label name; use letters, digits and underscores", l)
		case seen[l]:
			add(errs.Line("routing_labels"), "routing_labels: %q is listed twice (or is already an aggregation label); list each label once", l)
		}
		seen[l] = true
	}
	if !labelName.MatchString(c.ClusterLabel) {
		add(errs.Line("cluster_label"), "cluster_label %q is not a label name; use letters, digits and underscores", c.ClusterLabel)
	}
	if !strings.HasPrefix(c.RunbookURL, "http://") && !strings.HasPrefix(c.RunbookURL, "https://") {
		add(errs.Line("runbook_url"), "runbook_url %q is not an http(s) URL; give the base URL of docs/runbooks", c.RunbookURL)
	}
	for _, o := range []struct {
		key string
		v   float64
	}{{"availability", c.SLO.Availability}, {"latency_p95", c.SLO.LatencyP95}, {"latency_p99", c.SLO.LatencyP99}} {
		if !(o.v > 0 && o.v < 1) {
			add(errs.Line("slo", o.key), "slo.%s %v is not between 0 and 1 (exclusive); write the objective as a fraction, e.g. 0.999", o.key, o.v)
		}
	}
	names := make([]string, 0, len(c.Alerts))
	for n := range c.Alerts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := c.Alerts[n]
		spec := alertByName(n)
		if spec == nil {
			add(errs.Line("alerts", n), "alerts: there is no alert named %s; the names are listed in examples/mixin.yml", n)
			continue
		}
		for _, t := range []struct {
			key  string
			set  *Value
			has  bool
			tier string
		}{{"info", a.Info, spec.Info != nil, "info"}, {"warning", a.Warning, spec.Warning != nil, "warning"},
			{"critical", a.Critical, spec.Critical != nil, "critical"}, {"min", a.Min, spec.Min != nil, "guard"},
			{"plan", a.Plan, spec.Plan != "", "plan"}} {
			if t.set != nil && !t.has {
				add(errs.Line("alerts", n, t.key), "alerts.%s.%s: %s has no %s threshold; remove the key (the alert's settings are in examples/mixin.yml)", n, t.key, n, t.tier)
			}
		}
	}
}

// checkSelector accepts a comma-separated list of name op "value" matchers.
var matcher = regexp.MustCompile(`^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*$`)

func checkSelector(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, part := range splitMatchers(s) {
		if !matcher.MatchString(part) {
			return fmt.Errorf("%q is not a label matcher", strings.TrimSpace(part))
		}
	}
	return nil
}

// splitMatchers splits on commas outside quotes.
func splitMatchers(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
