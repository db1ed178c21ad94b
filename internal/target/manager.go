package target

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// Manager owns every target and their pools: the default target from the
// environment, named targets from the config file, and address targets probed
// through an auth module. Targets that differ only in the database share a
// pool (see Pools), so connection.max_connections caps the exporter's
// sessions per server and user. The configuration bounds the first two; address targets are
// whatever callers ask for, so they have a bound of their own, max_targets:
// the least recently scraped address target is closed to make room, and
// never a configured one.
type Manager struct {
	logger *slog.Logger
	pools  *Pools

	mu       sync.Mutex
	cfg      *config.Config
	targets  Configured
	def      *Target
	defConn  *pgx.ConnConfig
	defName  string
	named    map[string]*Target // configured targets, by name
	probes   map[string]*Target // address targets, by auth module and address
	closed   bool
	stop     chan struct{}
	stopOnce sync.Once
}

// NewManager starts the manager's idle-eviction loop. targets are cfg's
// targets as Prepare made them. def may be nil when no DSN was given (then
// /metrics serves only the exporter's own metrics).
func NewManager(cfg *config.Config, targets Configured, def *pgx.ConnConfig, logger *slog.Logger) *Manager {
	m := &Manager{logger: logger, pools: &Pools{}, cfg: cfg, targets: targets, defConn: def, named: map[string]*Target{}, probes: map[string]*Target{}, stop: make(chan struct{})}
	if def != nil {
		m.defName = Describe(def)
		m.def = newTarget(m.defName, def, cfg, logger, m.pools)
	}
	m.warnUnlistedModules()
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
// address (host[:port][/db][?options]) that the module's allowed_targets
// cover, and the credentials come from the module.
func (m *Manager) Probe(name, authModule string) (*Target, error) {
	if name == "" {
		return nil, &BadRequestError{"the target parameter is missing; use /probe?target=<name from the config file> or /probe?target=<host:port/db>&auth_module=<name>"}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("exporter is shutting down")
	}
	if authModule == "" {
		return m.namedLocked(name)
	}
	return m.addressLocked(name, authModule)
}

func (m *Manager) namedLocked(name string) (*Target, error) {
	if t, ok := m.named[name]; ok {
		return t, nil
	}
	tc, ok := m.targets.byName[name]
	if !ok {
		return nil, &BadRequestError{fmt.Sprintf("unknown target %q: it is not a target name in %s; add it there or pass auth_module= with an address", name, cfgName(m.cfg))}
	}
	t := newTarget(tc.Name, tc.conn, m.cfg, m.logger, m.pools)
	t.dbsel = m.cfg.TargetDatabases(tc.Target)
	m.named[name] = t
	return t, nil
}

func (m *Manager) addressLocked(addr, authModule string) (*Target, error) {
	key := authModule + "\x00" + addr
	if t, ok := m.probes[key]; ok {
		return t, nil
	}
	am, ok := m.cfg.AuthModules[authModule]
	if !ok {
		return nil, &BadRequestError{fmt.Sprintf("unknown auth_module %q: define it under auth_modules in %s", authModule, cfgName(m.cfg))}
	}
	cc, namesDB, err := addressTarget(addr, authModule, am, cfgName(m.cfg))
	if err != nil {
		return nil, err
	}
	m.evictLocked()
	// The same address probed with two auth modules is two targets, with two
	// roles' view of the server; their names (pool metrics, caches) differ.
	t := newTarget(addr+" auth_module="+authModule, cc, m.cfg, m.logger, m.pools)
	if namesDB && !am.AllDatabases {
		// An address that names a database is one database's probe: its
		// database-scoped collectors visit that database only.
		t.dbsel = t.dbsel.Only(cc.Database)
	}
	m.probes[key] = t
	return t, nil
}

func cfgName(c *config.Config) string {
	if c.File() == "" {
		return "the config file (--config.file)"
	}
	return c.File()
}

// warnUnlistedModules says at start and on each reload which auth modules
// no probe can use, and how to list their targets.
func (m *Manager) warnUnlistedModules() {
	for _, name := range slices.Sorted(maps.Keys(m.cfg.AuthModules)) {
		if m.cfg.AuthModules[name].AllowedTargets.Empty() {
			m.logger.Warn("auth module lists no allowed_targets: every /probe with it is refused; list the hosts (names, patterns or CIDRs) and ports it may be used for",
				"auth_module", name, "file", cfgName(m.cfg))
		}
	}
}

// evictLocked closes the least recently used address targets until one more
// fits within max_targets.
func (m *Manager) evictLocked() {
	for len(m.probes) >= m.cfg.MaxTargets && len(m.probes) > 0 {
		var oldKey string
		var oldest time.Time
		for k, t := range m.probes {
			if lu := t.LastUsed(); oldKey == "" || lu.Before(oldest) {
				oldKey, oldest = k, lu
			}
		}
		m.logger.Info("closing the least recently scraped address target to stay within max_targets", "target", m.probes[oldKey].Name, "max_targets", m.cfg.MaxTargets)
		m.probes[oldKey].Close()
		delete(m.probes, oldKey)
	}
}

// Reload puts cfg, and its targets as Prepare made them, in force. Probe
// targets are closed (they reconnect with the new settings on their next
// scrape); the default target is rebuilt when its connection settings changed.
func (m *Manager) Reload(cfg *config.Config, targets Configured) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cfg
	m.cfg, m.targets = cfg, targets
	for _, set := range []map[string]*Target{m.named, m.probes} {
		for k, t := range set {
			t.Close()
			delete(set, k)
		}
	}
	m.warnUnlistedModules()
	if m.def != nil && (old.Connection != cfg.Connection || !sameDatabases(old.Databases, cfg.Databases)) {
		m.def.Close()
		m.def = newTarget(m.defName, m.defConn, cfg, m.logger, m.pools)
	} else if m.def != nil {
		// Kept with its connections: what it remembers of the server is
		// read again on the next scrape, so a reload makes privileges
		// granted since visible at once.
		m.def.ForgetFacts()
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
	for _, set := range []map[string]*Target{m.named, m.probes} {
		for _, t := range set {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if m.def != nil {
		out = append([]*Target{m.def}, out...)
	}
	return out
}

// Pools returns the open pools, each with the number of targets sharing it.
func (m *Manager) Pools() []PoolRefs { return m.pools.List() }

func (m *Manager) janitor() {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-tick.C:
			for _, p := range m.pools.List() {
				p.EvictIdle(now)
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
	for _, set := range []map[string]*Target{m.named, m.probes} {
		for _, t := range set {
			t.Close()
		}
	}
}
