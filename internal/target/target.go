// Package target manages the servers the exporter scrapes: capped,
// long-lived connection pools, one per server and user and shared by the
// targets that differ only in the database, retries with backoff and a circuit
// breaker for connecting, and cached facts about each server.
package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// ApplicationName is set on every session the exporter opens, so operators can
// find (and count) its connections in pg_stat_activity.
const ApplicationName = "pg_hardening_exporter"

// Target is one PostgreSQL server and database. Its Pool may be shared with
// other targets of the same server and user; everything else (breaker,
// facts, database list) is its own.
type Target struct {
	Name    string
	Pool    *Pool
	Breaker *Breaker

	db        string // the database "" stands for in Acquire
	pools     *Pools // the set Pool came from, nil for a pool of its own
	closeOnce sync.Once
	conn      config.Connection
	dbsel     config.Databases
	logger    *slog.Logger

	mu         sync.Mutex
	facts      *Facts
	dbs        []string
	dbsAt      time.Time
	lastUsed   time.Time
	downLogged bool
}

// Facts are what collectors need to know about the server before they query it.
type Facts struct {
	VersionNum int    // server_version_num, e.g. 170004
	Version    string // server_version, e.g. "17.4"
	InRecovery bool
	StartTime  time.Time
	// ConfLoadTime is when the server last loaded its configuration files.
	// pg_conf_load_time() answers per session: a session that was open during
	// a reload gives the moment it handled the reload itself (at its next
	// statement, which may be much later), a newer one inherits the
	// postmaster's. The earliest answer since the last reload is kept.
	ConfLoadTime time.Time
	Database     string            // the database of the target's connection string
	Settings     map[string]string // the settings in factSettings
	Extensions   map[string]string // extension name -> version, in Database
	// Privileges holds the answers to privilege checks made since the
	// settings were last read.
	Privileges *Privileges
	readAt     time.Time
	// serverReadAt is the server's clock when the settings were last read: a
	// configuration load after it is a reload the cached facts do not know.
	serverReadAt time.Time
}

// Privileges remembers whether the role may read what a collector reads
// (a view granted to superusers only, say), so that the check is not
// repeated on every scrape. The answers last as long as the settings they
// came with: a new, empty set starts whenever the facts' settings are read
// again (the server restarted or reloaded its configuration, the discovery
// TTL passed, the exporter reloaded its own). A nil *Privileges remembers
// nothing.
type Privileges struct {
	mu  sync.Mutex
	may map[string]bool
}

// Lookup returns the remembered answer for key and whether there is one.
func (p *Privileges) Lookup(key string) (may, known bool) {
	if p == nil {
		return false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	may, known = p.may[key]
	return may, known
}

// Remember keeps the answer for key.
func (p *Privileges) Remember(key string, may bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.may == nil {
		p.may = map[string]bool{}
	}
	p.may[key] = may
}

// Forget drops the answer for key, so that the next scrape checks again.
func (p *Privileges) Forget(key string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.may, key)
}

// Major is the major version: 13 for 130012.
func (f *Facts) Major() int { return f.VersionNum / 10000 }

// SettingInt returns a numeric setting, or def if absent or not numeric.
func (f *Facts) SettingInt(name string, def int64) int64 {
	v, err := strconv.ParseInt(f.Settings[name], 10, 64)
	if err != nil {
		return def
	}
	return v
}

// factSettings are the settings collectors use to interpret what they read.
var factSettings = []string{
	"max_connections", "superuser_reserved_connections", "reserved_connections",
	"autovacuum_freeze_max_age", "autovacuum_multixact_freeze_max_age",
	"track_io_timing", "track_activities", "track_counts", "block_size",
	"data_directory", "max_prepared_transactions", "shared_preload_libraries",
}

// New makes a target with a pool of its own; nothing is connected until the
// first scrape.
func New(name string, cc *pgx.ConnConfig, c *config.Config, logger *slog.Logger) *Target {
	return newTarget(name, cc, c, logger, nil)
}

// newTarget makes a target whose pool comes from pools (shared with the
// targets that differ from it only in the database), or is its own when pools
// is nil.
func newTarget(name string, cc *pgx.ConnConfig, c *config.Config, logger *slog.Logger, pools *Pools) *Target {
	cfg := cc.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(c.Connection.StatementTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(c.Connection.LockTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	// pgx speaks UTF-8 only; a SQL_ASCII database would otherwise start the
	// session in its own encoding and every query would be refused. Its
	// names then arrive unconverted, possibly not UTF-8 (metric.Emit).
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > c.Connection.ConnectTimeout {
		cfg.ConnectTimeout = c.Connection.ConnectTimeout
	}
	// On a cancelled context ask the server to stop the query at once, and give up
	// on the socket shortly after, so a scrape deadline also ends the server's work.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, CancelRequestDelay: 0, DeadlineDelay: 250 * time.Millisecond}
	}
	// Statements are cached per connection by default; the exporter's queries are
	// fixed strings, but describing them once per connection is still a round trip
	// that PgBouncer in transaction mode would break, so use the simple protocol.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	t := &Target{
		Name:    name,
		Breaker: &Breaker{Threshold: c.Connection.BreakerFailures, OpenFor: c.Connection.BreakerOpenFor},
		db:      ownDatabase(cfg),
		pools:   pools,
		conn:    c.Connection,
		dbsel:   c.Databases,
		logger:  logger.With("target", name),
	}
	if pools != nil {
		t.Pool = pools.get(cfg, c.Connection.MaxConnections, c.Connection.IdleTimeout)
	} else {
		t.Pool = NewPool(cfg, c.Connection.MaxConnections, c.Connection.IdleTimeout)
	}
	return t
}

// ownDatabase is the database a connection string connects to: the one it
// names, or else, as PostgreSQL does, the one named after the user.
func ownDatabase(cfg *pgx.ConnConfig) string {
	if cfg.Database != "" {
		return cfg.Database
	}
	return cfg.User
}

// ConnectError wraps a failure to open a connection (as opposed to waiting for
// a free one).
type ConnectError struct{ Err error }

func (e *ConnectError) Error() string { return "cannot connect: " + e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// Acquire returns a connection to db ("" for the target's own database),
// connecting with retries and backoff within ctx. Only the target's own
// database feeds the circuit breaker: a database the exporter may not log in
// to (pg_hba.conf, a dropped database) fails its own collectors, not the
// whole server. A connection the server refused with an error (a wrong
// password, too many connections) is not retried within the scrape.
func (t *Target) Acquire(ctx context.Context, db string) (*Conn, error) {
	t.mu.Lock()
	t.lastUsed = time.Now()
	t.mu.Unlock()
	own := db == ""
	if own {
		db = t.db
		if err := t.Breaker.Allow(time.Now()); err != nil {
			return nil, err
		}
	}
	wait := t.conn.RetryBackoff
	var err error
	for attempt := 0; ; attempt++ {
		var c *Conn
		c, err = t.Pool.Acquire(ctx, db)
		if err == nil {
			if own {
				t.Breaker.Record(time.Now(), nil)
			}
			return c, nil
		}
		var ce *ConnectError
		if !errors.As(err, &ce) {
			// Waiting for a free connection timed out: says nothing about the
			// server, so the breaker neither counts nor forgives it.
			if own {
				t.Breaker.Release()
			}
			return nil, err
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) || attempt >= t.conn.Retries || ctx.Err() != nil {
			break
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
	if own {
		t.Breaker.Record(time.Now(), err)
	}
	return nil, err
}

// ForgetFacts makes the next scrape read the settings, the extensions and
// the privileges again, as after a restart of the server.
func (t *Target) ForgetFacts() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.facts = nil
}

// LastUsed is when the target was last scraped.
func (t *Target) LastUsed() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastUsed
}

const factsQuery = `SELECT current_setting('server_version_num')::int, current_setting('server_version'),
 pg_is_in_recovery(), pg_postmaster_start_time(), pg_conf_load_time(), current_database(), statement_timestamp()`

// Facts reads the server's identity on c (one cheap query, which doubles as the
// liveness check behind pg_up) and refreshes settings and extensions when the
// server restarted, reloaded its configuration, or the cached copy is older
// than the discovery TTL.
//
// A reload is a configuration load later than the last read by the server's
// clock. Comparing load times for equality would not do: they differ between
// sessions, so every new pooled connection would look like a reload.
func (t *Target) Facts(ctx context.Context, c *Conn) (*Facts, error) {
	f := &Facts{}
	var now time.Time
	if err := c.QueryRow(ctx, factsQuery).Scan(&f.VersionNum, &f.Version, &f.InRecovery, &f.StartTime, &f.ConfLoadTime, &f.Database, &now); err != nil {
		return nil, err
	}
	t.mu.Lock()
	old := t.facts
	t.mu.Unlock()
	reloaded := old == nil || !old.StartTime.Equal(f.StartTime) || f.ConfLoadTime.After(old.serverReadAt)
	if !reloaded && old.ConfLoadTime.Before(f.ConfLoadTime) {
		f.ConfLoadTime = old.ConfLoadTime
	}
	if !reloaded && old.VersionNum == f.VersionNum && time.Since(old.readAt) < t.dbsel.DiscoveryTTL {
		f.Settings, f.Extensions, f.Privileges, f.readAt, f.serverReadAt = old.Settings, old.Extensions, old.Privileges, old.readAt, old.serverReadAt
	} else {
		if err := readSettings(ctx, c, f); err != nil {
			return nil, err
		}
		f.Privileges, f.readAt, f.serverReadAt = &Privileges{}, time.Now(), now
	}
	t.mu.Lock()
	t.facts = f
	t.mu.Unlock()
	return f, nil
}

func readSettings(ctx context.Context, c *Conn, f *Facts) error {
	f.Settings = map[string]string{}
	rows, err := c.Query(ctx, `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`, factSettings)
	if err != nil {
		return fmt.Errorf("reading settings: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		f.Settings[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading settings: %w", err)
	}
	exts, err := Extensions(ctx, c)
	if err != nil {
		return err
	}
	f.Extensions = exts
	return nil
}

// Extensions lists the extensions installed in the connection's database.
func Extensions(ctx context.Context, c *Conn) (map[string]string, error) {
	rows, err := c.Query(ctx, `SELECT extname, extversion FROM pg_extension`)
	if err != nil {
		return nil, fmt.Errorf("reading extensions: %w", err)
	}
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, err
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading extensions: %w", err)
	}
	return out, nil
}

// Databases lists the databases that database-scoped collectors visit: those
// that allow connections, are not templates, that the exporter's role may
// connect to, and that the config's include/exclude patterns select. The list
// is cached for the discovery TTL.
func (t *Target) Databases(ctx context.Context, c *Conn) ([]string, error) {
	t.mu.Lock()
	if t.dbs != nil && time.Since(t.dbsAt) < t.dbsel.DiscoveryTTL {
		dbs := t.dbs
		t.mu.Unlock()
		return dbs, nil
	}
	t.mu.Unlock()
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database
 WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') ORDER BY datname`)
	if err != nil {
		return nil, fmt.Errorf("discovering databases: %w", err)
	}
	var dbs []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		if t.dbsel.Wanted(name) {
			dbs = append(dbs, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discovering databases: %w", err)
	}
	if dbs == nil {
		dbs = []string{}
	}
	t.mu.Lock()
	t.dbs, t.dbsAt = dbs, time.Now()
	t.mu.Unlock()
	return dbs, nil
}

// NoteDown logs a connection failure once per outage, at warn level, and the
// recovery at info level; flapping servers do not flood the log.
func (t *Target) NoteDown(err error) {
	t.mu.Lock()
	first := !t.downLogged
	t.downLogged = true
	t.mu.Unlock()
	if first {
		t.logger.Warn("server unreachable; pg_up is 0 until it answers again", "err", err)
	} else {
		t.logger.Debug("server still unreachable", "err", err)
	}
}

// NoteUp logs the recovery after NoteDown.
func (t *Target) NoteUp() {
	t.mu.Lock()
	was := t.downLogged
	t.downLogged = false
	t.mu.Unlock()
	if was {
		t.logger.Info("server reachable again")
	}
}

// Close closes the target's connections, or, when its pool is shared, lets
// go of the pool, which closes with the last target using it. A second Close
// does nothing.
func (t *Target) Close() {
	t.closeOnce.Do(func() {
		if t.pools != nil {
			t.pools.put(t.Pool)
		} else {
			t.Pool.Close()
		}
	})
}
