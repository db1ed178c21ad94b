package remediate

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Modes.
const (
	ModeDryRun  = "dry-run"
	ModeEnforce = "enforce"
)

// Config is the receiver's configuration file (remediate.yml).
type Config struct {
	// Mode is dry-run (the default: every check runs, nothing changes) or enforce.
	Mode    string  `yaml:"mode"`
	Webhook Webhook `yaml:"webhook"`
	Queue   Queue   `yaml:"queue"`
	// DedupeFor remembers a notification (fingerprint and startsAt) this long, so
	// the copies that Alertmanager's HA peers send are dropped.
	DedupeFor time.Duration `yaml:"dedupe_for"`
	Session   Session       `yaml:"session"`
	Breaker   Breaker       `yaml:"breaker"`
	Audit     Audit         `yaml:"audit"`
	// History is how many recent decisions GET /api/v1/actions returns.
	History int                `yaml:"history"`
	Limits  Limits             `yaml:"limits"`
	Allow   Allow              `yaml:"allow"`
	Windows map[string]*Window `yaml:"windows"`
	Targets []*Target          `yaml:"targets"`
	Rules   []*Rule            `yaml:"rules"`

	file string
}

// Webhook tunes the HTTP endpoint.
type Webhook struct {
	// MaxBodyBytes is the largest accepted request body; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Limits bound the state a sender can make the receiver keep; a
// notification that would go past one is answered 503 (Alertmanager retries).
type Limits struct {
	// RememberedAlerts caps the notifications remembered for dedupe_for
	// (those queued and those resolved), which drop duplicates and late
	// firing copies of resolved alerts.
	RememberedAlerts int `yaml:"remembered_alerts"`
	// DeferredActions caps the actions waiting for their maintenance window.
	DeferredActions int `yaml:"deferred_actions"`
}

// Queue bounds the work waiting to run.
type Queue struct {
	// Size is the number of queued actions; a notification that does not fit gets 503.
	Size int `yaml:"size"`
	// Workers run actions in parallel (per-target limits still apply).
	Workers int `yaml:"workers"`
}

// Session settings apply to every database session the receiver opens.
type Session struct {
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`
	LockTimeout      time.Duration `yaml:"lock_timeout"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	ApplicationName  string        `yaml:"application_name"`
}

// Breaker opens a target's circuit after Failures consecutive failed actions.
type Breaker struct {
	Failures int           `yaml:"failures"`
	OpenFor  time.Duration `yaml:"open_for"`
}

// Audit is the append-only JSON-lines log of every decision.
type Audit struct {
	File  string `yaml:"file"`
	Fsync bool   `yaml:"fsync"`
}

// Allow lists what actions may touch. Each entry is a regular expression
// anchored at both ends. An empty list allows nothing of that kind.
type Allow struct {
	Databases []string `yaml:"databases"`
	Schemas   []string `yaml:"schemas"`
	// Tables match "schema.table" (for an index, its table).
	Tables []string `yaml:"tables"`
	// Roles are the roles whose sessions may be cancelled or terminated.
	Roles []string `yaml:"roles"`

	databases, schemas, tables, roles []*regexp.Regexp
}

// Target is a server an alert can be about.
type Target struct {
	Name string `yaml:"name"`
	// Match selects the alerts about this target by exact label values, for
	// example instance: db1:9932 or target: db1. The first matching target wins.
	Match map[string]string `yaml:"match"`
	// Exactly one of DSN, DSNFile and DSNEnv; the database named there is the
	// one used for cluster-wide work (sessions, advisory locks of commands).
	config.ConnSource `yaml:",inline"`
	// Concurrency caps the actions running against this target at once.
	Concurrency int `yaml:"concurrency"`

	Line int `yaml:"-"`
}

// Rule maps an alert to an action.
type Rule struct {
	Alertname string `yaml:"alertname"`
	// Match and MatchRE further restrict the alerts by label (exact value, or
	// an anchored regular expression).
	Match   map[string]string `yaml:"match"`
	MatchRE map[string]string `yaml:"match_re"`
	Action  string            `yaml:"action"`
	// Params are the action's parameters (see docs/remediation.md).
	Params yaml.Node `yaml:"params"`
	// Cooldown is the least time between two runs of this action on one object.
	Cooldown time.Duration `yaml:"cooldown"`
	// Window names a maintenance window outside which the action does not run.
	Window string `yaml:"window"`
	// OutsideWindow is "defer" (queue it for the window's next opening, the
	// default) or "skip".
	OutsideWindow string `yaml:"outside_window"`

	Line    int `yaml:"-"`
	matchRE map[string]*regexp.Regexp
	params  any
	action  *actionSpec
	window  *Window
}

// Defaults are used where the file is silent.
func Defaults() *Config {
	return &Config{
		Mode:      ModeDryRun,
		Webhook:   Webhook{MaxBodyBytes: 1 << 20},
		Queue:     Queue{Size: 1000, Workers: 4},
		DedupeFor: 10 * time.Minute,
		Session: Session{
			ConnectTimeout:   5 * time.Second,
			LockTimeout:      2 * time.Second,
			StatementTimeout: 2 * time.Hour,
			ApplicationName:  "pg_hardening_remediate",
		},
		Breaker: Breaker{Failures: 5, OpenFor: time.Minute},
		History: 200,
		Limits:  Limits{RememberedAlerts: 100000, DeferredActions: 500},
	}
}

// File is the path the configuration was read from.
func (c *Config) File() string { return c.file }

// Load reads and validates path, and checks the files and environment
// variables it names (see checkFiles).
func Load(path string) (*Config, error) {
	if path == "" {
		return nil, errors.New("remediate needs --config.file; examples/remediate.yml is a starting point")
	}
	data, err := yamlfile.ReadFile(path, "config file")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates data as if read from file, and checks the
// files and environment variables it names.
func Parse(file string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.file = file
	if err := yamlfile.Parse(file, data, cfg, fileNames, cfg.validateAndCheckFiles); err != nil {
		return nil, err
	}
	return cfg, nil
}

// validateAndCheckFiles reports every problem of the file at once: those of
// its values and those of the files and variables they name.
func (c *Config) validateAndCheckFiles(errs *yamlfile.Errors) {
	c.validate(errs)
	c.checkFiles(errs)
}

// Defaults of the settings of one target and one rule; 0 and "" in the file
// mean these too.
const (
	defaultConcurrency   = 1
	defaultOutsideWindow = "defer"
)

// UnmarshalYAML applies the target's defaults and records its line.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	type plain Target
	if err := strictDecode(n, (*plain)(t), "Target"); err != nil {
		return err
	}
	if t.Concurrency == 0 {
		t.Concurrency = defaultConcurrency
	}
	t.Line = n.Line
	return nil
}

// UnmarshalYAML applies the rule's defaults and records its line.
func (r *Rule) UnmarshalYAML(n *yaml.Node) error {
	type plain Rule
	if err := strictDecode(n, (*plain)(r), "Rule"); err != nil {
		return err
	}
	if r.OutsideWindow == "" {
		r.OutsideWindow = defaultOutsideWindow
	}
	r.Line = n.Line
	return nil
}

// UnmarshalYAML records the window's line.
func (w *Window) UnmarshalYAML(n *yaml.Node) error {
	type plain Window
	if err := strictDecode(n, (*plain)(w), "Window"); err != nil {
		return err
	}
	w.Line = n.Line
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// validate checks the decoded values; it reads no files and no environment.
func (c *Config) validate(errs *yamlfile.Errors) {
	add := errs.Add
	if c.Mode != ModeDryRun && c.Mode != ModeEnforce {
		add(0, "mode is %q; use dry-run (report only) or enforce", c.Mode)
	}
	if c.Webhook.MaxBodyBytes < 1024 {
		add(0, "webhook.max_body_bytes is %d; use 1024 or more", c.Webhook.MaxBodyBytes)
	}
	if c.Queue.Size < 1 || c.Queue.Workers < 1 {
		add(0, "queue.size and queue.workers must be 1 or more")
	}
	for name, d := range map[string]time.Duration{
		"dedupe_for": c.DedupeFor, "session.connect_timeout": c.Session.ConnectTimeout,
		"session.lock_timeout": c.Session.LockTimeout, "session.statement_timeout": c.Session.StatementTimeout,
		"breaker.open_for": c.Breaker.OpenFor,
	} {
		if d <= 0 {
			add(0, "%s must be a positive duration such as 5s or 1m", name)
		}
	}
	if c.Session.ApplicationName == "" {
		add(0, "session.application_name must not be empty: it is how the receiver recognises its own sessions")
	}
	if c.Breaker.Failures < 1 {
		add(0, "breaker.failures is %d; use 1 or more", c.Breaker.Failures)
	}
	if c.History < 0 {
		add(0, "history is %d; use 0 or more", c.History)
	}
	if c.Limits.RememberedAlerts < 1 || c.Limits.DeferredActions < 1 {
		add(0, "limits.remembered_alerts and limits.deferred_actions must be 1 or more")
	}
	var err error
	for _, l := range []struct {
		name string
		in   []string
		out  *[]*regexp.Regexp
	}{
		{"allow.databases", c.Allow.Databases, &c.Allow.databases},
		{"allow.schemas", c.Allow.Schemas, &c.Allow.schemas},
		{"allow.tables", c.Allow.Tables, &c.Allow.tables},
		{"allow.roles", c.Allow.Roles, &c.Allow.roles},
	} {
		if *l.out, err = compileAll(l.in); err != nil {
			add(0, "%s: %v", l.name, err)
		}
	}
	for name, w := range c.Windows {
		if err := w.compile(); err != nil {
			add(w.Line, "window %q: %v", name, err)
		}
	}
	seen := map[string]int{}
	for _, t := range c.Targets {
		switch {
		case !nameRE.MatchString(t.Name):
			add(t.Line, "target name %q must be 1-128 letters, digits, '_', '.', ':' or '-'", t.Name)
		case seen[t.Name] != 0:
			add(t.Line, "target %q is defined twice (first at line %d); give each target its own name", t.Name, seen[t.Name])
		default:
			seen[t.Name] = t.Line
		}
		if p := t.Problem(); p != "" {
			add(t.Line, "target %q %s", t.Name, p)
		}
		if len(t.Match) == 0 {
			add(t.Line, "target %q needs match: the labels that pick it, for example instance: db1:9932", t.Name)
		}
		if t.Concurrency < 0 || t.Concurrency > 16 {
			add(t.Line, "target %q: concurrency is %d; use 1 to 16", t.Name, t.Concurrency)
		}
	}
	for _, r := range c.Rules {
		c.validateRule(r, errs)
	}
}

// checkFiles reads the connection settings of every target that names
// exactly one source (dsn_file, dsn_env, password_file), so that a missing
// file or unset variable is reported at load, not at the first alert.
func (c *Config) checkFiles(errs *yamlfile.Errors) {
	for _, t := range c.Targets {
		if t.Problem() != "" {
			continue // validate reported it
		}
		if _, err := t.connConfig(); err != nil {
			errs.Add(t.Line, "%v", err)
		}
	}
}

func (c *Config) validateRule(r *Rule, errs *yamlfile.Errors) {
	add := errs.Add
	if r.Alertname == "" {
		add(r.Line, "a rule needs alertname")
	}
	spec, ok := actions[r.Action]
	if !ok {
		add(r.Line, "rule for %s: unknown action %q; use one of %s", r.Alertname, r.Action, strings.Join(actionNames(), ", "))
		return
	}
	r.action = spec
	p := spec.params()
	if r.Params.Kind != 0 {
		if err := strictDecode(&r.Params, p, "params of "+r.Action); err != nil {
			errs.AddDecode(err)
			return
		}
	}
	if err := p.validate(); err != nil {
		add(r.Line, "rule for %s: action %s: %v", r.Alertname, r.Action, err)
	}
	if bp, ok := p.(*backendParams); ok && r.Action == "cancel_backend" && bp.Sessions == "idle_in_transaction" {
		add(r.Line, "rule for %s: cancel_backend cannot end a session idle in a transaction (it runs no query to cancel); use terminate_backend", r.Alertname)
	}
	r.params = p
	r.matchRE = map[string]*regexp.Regexp{}
	for k, v := range r.MatchRE {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			add(r.Line, "rule for %s: match_re %s: %q is not a valid regular expression: %v", r.Alertname, k, v, err)
			continue
		}
		r.matchRE[k] = re
	}
	if r.Cooldown < 0 {
		add(r.Line, "rule for %s: cooldown must not be negative", r.Alertname)
	}
	switch r.OutsideWindow {
	case "defer", "skip":
	default:
		add(r.Line, "rule for %s: outside_window is %q; use defer or skip", r.Alertname, r.OutsideWindow)
	}
	if r.Window != "" {
		w, ok := c.Windows[r.Window]
		if !ok {
			add(r.Line, "rule for %s: window %q is not defined under windows", r.Alertname, r.Window)
		}
		r.window = w
	}
}

func compileAll(patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("pattern %q is not a valid regular expression: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// strictDecode decodes a nested section with unknown keys rejected (see
// yamlfile.StrictDecode).
func strictDecode(n *yaml.Node, out any, typeName string) error {
	return yamlfile.StrictDecode(n, out, typeName)
}

// fileNames are the words the receiver config's error messages use.
var fileNames = yamlfile.Names{
	Section: func(goType string) string {
		where := strings.TrimPrefix(goType, "remediate.")
		if where == "Config" {
			return "the top level"
		}
		return where
	},
	Doc: "docs/remediation.md",
}

// targetFor returns the first target whose match labels all equal the alert's.
func (c *Config) targetFor(labels map[string]string) *Target {
	for _, t := range c.Targets {
		ok := true
		for k, v := range t.Match {
			if labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return t
		}
	}
	return nil
}

// rulesFor returns the rules whose alertname and matchers fit the labels.
func (c *Config) rulesFor(labels map[string]string) []*Rule {
	var out []*Rule
	for _, r := range c.Rules {
		if r.Alertname != labels["alertname"] {
			continue
		}
		ok := true
		for k, v := range r.Match {
			if labels[k] != v {
				ok = false
			}
		}
		for k, re := range r.matchRE {
			if !re.MatchString(labels[k]) {
				ok = false
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}
