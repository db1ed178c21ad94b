package target

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// BadRequestError is a problem with a /probe request's parameters (HTTP 400).
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// Manager owns every target's pool: the default target from the environment,
// named targets from the config file, and address targets probed through an
// auth module. At most MaxTargets pools are open; the least recently scraped
// probe target is closed to make room.
type Manager struct {
	logger *slog.Logger

	mu       sync.Mutex
	cfg      *config.Config
	targets  Configured
	def      *Target
	defConn  *pgx.ConnConfig
	defName  string
	probes   map[string]*Target
	closed   bool
	stop     chan struct{}
	stopOnce sync.Once
}

// NewManager starts the manager's idle-eviction loop. targets are cfg's
// targets as Prepare made them. def may be nil when no DSN was given (then
// /metrics serves only the exporter's own metrics).
func NewManager(cfg *config.Config, targets Configured, def *pgx.ConnConfig, logger *slog.Logger) *Manager {
	m := &Manager{logger: logger, cfg: cfg, targets: targets, defConn: def, probes: map[string]*Target{}, stop: make(chan struct{})}
	if def != nil {
		m.defName = Describe(def)
		m.def = New(m.defName, def, cfg, logger)
	}
	go m.janitor()
	return m
}

// Config returns the config in force.
func (m *Manager) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Default returns the target of /metrics, or nil.
func (m *Manager) Default() *Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.def
}

// Probe returns the target for /probe?target=&auth_module=. A target without an
// auth module must be the name of a configured target; with one, it is an
// address (host[:port][/db][?options]) and the credentials come from the module.
func (m *Manager) Probe(name, authModule string) (*Target, error) {
	if name == "" {
		return nil, &BadRequestError{"the target parameter is missing; use /probe?target=<name from the config file> or /probe?target=<host:port/db>&auth_module=<name>"}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("exporter is shutting down")
	}
	key := authModule + "\x00" + name
	if t, ok := m.probes[key]; ok {
		return t, nil
	}
	var (
		cc  *pgx.ConnConfig
		err error
	)
	if authModule == "" {
		var ok bool
		if cc, ok = m.targets.conns[name]; !ok {
			return nil, &BadRequestError{fmt.Sprintf("unknown target %q: it is not a target name in %s; add it there or pass auth_module= with an address", name, cfgName(m.cfg))}
		}
	} else {
		am, ok := m.cfg.AuthModules[authModule]
		if !ok {
			return nil, &BadRequestError{fmt.Sprintf("unknown auth_module %q: define it under auth_modules in %s", authModule, cfgName(m.cfg))}
		}
		cc, err = addressConn(name, am)
		if err != nil {
			return nil, err
		}
	}
	m.evictLocked()
	// The same address probed with two auth modules is two targets, with two
	// roles' view of the server; their names (pool metrics, caches) differ.
	tname := name
	if authModule != "" {
		tname = name + " auth_module=" + authModule
	}
	t := New(tname, cc, m.cfg, m.logger)
	m.probes[key] = t
	return t, nil
}

func cfgName(c *config.Config) string {
	if c.File() == "" {
		return "the config file (--config.file)"
	}
	return c.File()
}

// evictLocked closes the least recently used probe targets until one more fits.
func (m *Manager) evictLocked() {
	max := m.cfg.MaxTargets
	if m.def != nil {
		max--
	}
	for len(m.probes) >= max && len(m.probes) > 0 {
		var oldKey string
		var oldest time.Time
		for k, t := range m.probes {
			if lu := t.LastUsed(); oldKey == "" || lu.Before(oldest) {
				oldKey, oldest = k, lu
			}
		}
		m.logger.Info("closing the least recently scraped target to stay within max_targets", "target", m.probes[oldKey].Name, "max_targets", m.cfg.MaxTargets)
		m.probes[oldKey].Close()
		delete(m.probes, oldKey)
	}
}

// addressConn builds a connection from a probe address and an auth module.
// The address carries no credentials; its options are limited to the same
// set an auth module may set.
func addressConn(addr string, am config.AuthModule) (*pgx.ConnConfig, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "postgresql://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, &BadRequestError{fmt.Sprintf("target %q is not an address of the form host[:port][/database][?sslmode=...]", addr)}
	}
	if u.User != nil {
		return nil, &BadRequestError{fmt.Sprintf("target %q carries credentials; put them in the auth module instead", u.Redacted())}
	}
	q := u.Query()
	for k := range q {
		if !config.AllowedAuthOption(k) {
			return nil, &BadRequestError{fmt.Sprintf("target %q has option %q, which a probe may not set", addr, k)}
		}
	}
	// The module's options win: a probe URL must not be able to weaken the TLS
	// settings its credentials are sent under.
	for k, v := range am.Options {
		q.Set(k, v)
	}
	if db := q.Get("dbname"); db != "" && strings.Trim(u.Path, "/") == "" {
		u.Path = "/" + db
	}
	q.Del("dbname")
	u.RawQuery = q.Encode()
	pass := am.UserPass.Password
	if am.UserPass.PasswordFile != "" {
		var err error
		if pass, err = readSecret(am.UserPass.PasswordFile); err != nil {
			return nil, fmt.Errorf("auth module password_file: cannot read it: %v", err)
		}
	}
	u.User = url.User(am.UserPass.Username)
	cc, err := ParseDSN(fmt.Sprintf("target %q", addr), u.String(), pass)
	if err != nil {
		return nil, &BadRequestError{err.Error()}
	}
	return cc, nil
}

// Reload puts cfg, and its targets as Prepare made them, in force. Probe
// targets are closed (they reconnect with the new settings on their next
// scrape); the default target is rebuilt when its connection settings changed.
func (m *Manager) Reload(cfg *config.Config, targets Configured) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cfg
	m.cfg, m.targets = cfg, targets
	for k, t := range m.probes {
		t.Close()
		delete(m.probes, k)
	}
	if m.def != nil && (old.Connection != cfg.Connection || !sameDatabases(old.Databases, cfg.Databases)) {
		m.def.Close()
		m.def = New(m.defName, m.defConn, cfg, m.logger)
	}
}

func sameDatabases(a, b config.Databases) bool {
	return a.DiscoveryTTL == b.DiscoveryTTL && strings.Join(a.Include, "\x00") == strings.Join(b.Include, "\x00") &&
		strings.Join(a.Exclude, "\x00") == strings.Join(b.Exclude, "\x00") && len(a.Include) == len(b.Include) && len(a.Exclude) == len(b.Exclude)
}

// Targets returns every open target, the default first, then by name.
func (m *Manager) Targets() []*Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Target
	for _, t := range m.probes {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if m.def != nil {
		out = append([]*Target{m.def}, out...)
	}
	return out
}

func (m *Manager) janitor() {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-tick.C:
			for _, t := range m.Targets() {
				t.Pool.EvictIdle(now)
			}
		}
	}
}

// Close closes every pool and stops the eviction loop.
func (m *Manager) Close() {
	m.stopOnce.Do(func() { close(m.stop) })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.def != nil {
		m.def.Close()
	}
	for _, t := range m.probes {
		t.Close()
	}
}
