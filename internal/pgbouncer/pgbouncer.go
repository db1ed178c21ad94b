// Package pgbouncer reads PgBouncer's admin console (SHOW POOLS, STATS,
// DATABASES, LISTS, CONFIG, VERSION) for any number of PgBouncers named in the
// config file, and serves the result as a prometheus.Collector on /metrics.
//
// Each PgBouncer gets one connection at most, kept open between scrapes, and
// its own deadline; all are scraped concurrently, and one that fails reports
// pgbouncer_up 0 without touching the others. Columns are read by name, so
// PgBouncer versions that add, drop or reorder columns are handled.
package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// AdminDatabase is the name of PgBouncer's admin console database.
const AdminDatabase = "pgbouncer"

// Collector scrapes the configured PgBouncers.
type Collector struct {
	logger *slog.Logger

	mu        sync.Mutex
	instances []*instance
}

// New makes a collector with no PgBouncers; Prepare and Apply (or Configure) set them.
func New(logger *slog.Logger) *Collector {
	return &Collector{logger: logger}
}

type instance struct {
	name    string
	key     string // identity across reloads: the settings that need a new connection
	cfg     *pgx.ConnConfig
	timeout time.Duration
	logger  *slog.Logger

	slot       chan struct{} // one scrape (and one connection) at a time
	conn       *pgx.Conn     // owned by whoever holds slot
	closed     bool          // removed by Configure or Close: never reconnect
	downLogged bool
}

// Set is a checked list of PgBouncers, ready to be put in force by Apply.
type Set struct{ instances []*instance }

// Prepare checks a list of PgBouncers and resolves their connection settings
// (reading dsn_file, dsn_env and password_file) without touching the running
// ones, so that a configuration that fails anywhere changes nothing.
func (c *Collector) Prepare(bs []config.PgBouncer) (Set, error) {
	var next []*instance
	var errs []string
	for _, b := range bs {
		cfg, err := connConfig(b)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if b.Timeout <= 0 {
			// A configuration file always has one (its default fills in);
			// without it every scrape would fail at once.
			errs = append(errs, fmt.Sprintf("pgbouncer %q has no positive timeout; build its settings with config.Parse or set Timeout", b.Name))
			continue
		}
		next = append(next, &instance{
			name: b.Name, cfg: cfg, timeout: b.Timeout,
			key:    fmt.Sprintf("%s|%s|%s|%d|%s|%s|%d", b.Name, cfg.Host, cfg.User, cfg.Port, cfg.Password, cfg.Database, b.Timeout),
			logger: c.logger.With("pgbouncer", b.Name),
			slot:   make(chan struct{}, 1),
		})
	}
	if len(errs) > 0 {
		return Set{}, errors.New(strings.Join(errs, "\n"))
	}
	return Set{instances: next}, nil
}

// Apply puts a prepared list in force. PgBouncers whose settings did not
// change keep their connection; removed ones are closed.
func (c *Collector) Apply(set Set) {
	next := append([]*instance(nil), set.instances...)
	c.mu.Lock()
	old := map[string]*instance{}
	for _, in := range c.instances {
		old[in.key] = in
	}
	for i, in := range next {
		if o, ok := old[in.key]; ok {
			next[i] = o
			delete(old, in.key)
		}
	}
	c.instances = next
	c.mu.Unlock()
	for _, o := range old {
		o.close()
	}
}

// Configure prepares and applies a list of PgBouncers; on error nothing changes.
func (c *Collector) Configure(bs []config.PgBouncer) error {
	set, err := c.Prepare(bs)
	if err != nil {
		return err
	}
	c.Apply(set)
	return nil
}

// connConfig builds the connection settings of one PgBouncer: its admin
// database, the simple query protocol (the admin console has no extended
// protocol), and no startup parameters but application_name, which PgBouncer
// accepts; it refuses others unless listed in ignore_startup_parameters.
func connConfig(b config.PgBouncer) (*pgx.ConnConfig, error) {
	s := target.ConnSettings{Kind: "pgbouncer", Name: b.Name, ConnSource: b.ConnSource}
	r, err := s.Resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := target.ParseDSN(r.Setting, r.DSN, r.Password)
	if err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		cfg.Database = AdminDatabase
	}
	if cfg.Database != AdminDatabase {
		return nil, fmt.Errorf("%s names database %q; PgBouncer's statistics live in its admin database, use /%s", r.Setting, cfg.Database, AdminDatabase)
	}
	cfg.RuntimeParams = map[string]string{"application_name": target.ApplicationName}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	// On a deadline, give up on the socket: a cancel request means nothing to
	// the admin console.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	if b.Timeout < cfg.ConnectTimeout || cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = b.Timeout
	}
	return cfg, nil
}

// Close closes every connection.
func (c *Collector) Close() {
	c.mu.Lock()
	ins := c.instances
	c.instances = nil
	c.mu.Unlock()
	for _, in := range ins {
		in.close()
	}
}

func (in *instance) close() {
	in.slot <- struct{}{}
	if in.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = in.conn.Close(ctx)
		cancel()
		in.conn = nil
	}
	in.closed = true
	<-in.slot
}

// Describe sends nothing: the families depend on the PgBouncers' versions, so
// the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect scrapes every PgBouncer concurrently, each within its own timeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ins := c.instances
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), in.timeout)
			defer cancel()
			in.scrape(ctx, ch)
		}()
	}
	wg.Wait()
}

func (in *instance) scrape(ctx context.Context, ch chan<- prometheus.Metric) {
	start := time.Now()
	defer func() { durationMetric.Emit(ch, time.Since(start).Seconds(), in.name) }()
	select {
	case in.slot <- struct{}{}:
	case <-ctx.Done():
		in.down(ch, errors.New("the previous scrape of this PgBouncer still runs"))
		return
	}
	defer func() { <-in.slot }()
	if in.closed {
		return
	}
	if in.conn == nil || in.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, in.cfg)
		if err != nil {
			in.down(ch, fmt.Errorf("cannot connect to %s: %w", target.Describe(in.cfg), err))
			return
		}
		in.conn = conn
	}
	version, err := in.version(ctx)
	if err != nil {
		in.drop()
		in.down(ch, err)
		return
	}
	if in.downLogged {
		in.logger.Info("PgBouncer reachable again")
		in.downLogged = false
	}
	upMetric.Emit(ch, 1, in.name)
	commandSuccess.Emit(ch, 1, in.name, "version")
	versionInfo.Emit(ch, 1, in.name, version)
	for _, cmd := range []struct {
		name string
		run  func(context.Context, chan<- prometheus.Metric) error
	}{
		{"pools", in.pools}, {"stats", in.stats}, {"databases", in.databases}, {"lists", in.lists}, {"config", in.config},
	} {
		ok := 1.0
		if err := cmd.run(ctx, ch); err != nil {
			ok = 0
			in.logger.Warn("SHOW command failed", "command", strings.ToUpper(cmd.name), "err", err)
			if in.conn.IsClosed() || ctx.Err() != nil {
				in.drop()
			}
		}
		commandSuccess.Emit(ch, ok, in.name, cmd.name)
		if in.conn == nil {
			break
		}
	}
}

func (in *instance) down(ch chan<- prometheus.Metric, err error) {
	upMetric.Emit(ch, 0, in.name)
	if !in.downLogged {
		in.logger.Warn("PgBouncer unreachable; pgbouncer_up is 0 until it answers again", "err", err)
		in.downLogged = true
	} else {
		in.logger.Debug("PgBouncer still unreachable", "err", err)
	}
}

func (in *instance) drop() {
	if in.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = in.conn.Close(ctx)
		cancel()
		in.conn = nil
	}
}

// table is the result of one SHOW command, by column name.
type table struct {
	cols map[string]int
	rows [][]*string // nil for NULL
}

func (t *table) text(row []*string, col string) string {
	i, ok := t.cols[col]
	if !ok || row[i] == nil {
		return ""
	}
	return *row[i]
}

func (t *table) number(row []*string, col string) (float64, bool) {
	i, ok := t.cols[col]
	if !ok || row[i] == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(*row[i], 64)
	return f, err == nil
}

// showRowLimit bounds what one SHOW command may return (databases, pools).
const showRowLimit = 10000

func (in *instance) show(ctx context.Context, what string) (*table, error) {
	if in.conn == nil {
		return nil, errors.New("no connection")
	}
	rows, err := in.conn.Query(ctx, "SHOW "+what)
	if err != nil {
		return nil, fmt.Errorf("SHOW %s: %w", what, err)
	}
	defer rows.Close()
	t := &table{cols: map[string]int{}}
	for i, fd := range rows.FieldDescriptions() {
		t.cols[fd.Name] = i
	}
	for rows.Next() {
		if len(t.rows) == showRowLimit {
			break
		}
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		t.rows = append(t.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW %s: %w", what, err)
	}
	return t, nil
}

// version returns "1.18.0" from SHOW VERSION ("PgBouncer 1.18.0"); it is the
// liveness check behind pgbouncer_up.
func (in *instance) version(ctx context.Context) (string, error) {
	t, err := in.show(ctx, "VERSION")
	if err != nil {
		return "", err
	}
	if len(t.rows) == 0 {
		return "", errors.New("SHOW VERSION returned no row")
	}
	v := t.text(t.rows[0], "version")
	if f := strings.Fields(v); len(f) >= 2 && strings.EqualFold(f[0], "pgbouncer") {
		v = f[1]
	}
	return v, nil
}

func emitColumns(ch chan<- prometheus.Metric, t *table, row []*string, cols []column, labels []string) {
	for _, c := range cols {
		if v, ok := t.number(row, c.name); ok {
			c.metric.Emit(ch, v*c.scale, labels...)
		}
	}
}

func (in *instance) pools(ctx context.Context, ch chan<- prometheus.Metric) error {
	t, err := in.show(ctx, "POOLS")
	if err == nil {
		emitPools(in.name, t, ch)
	}
	return err
}

func (in *instance) stats(ctx context.Context, ch chan<- prometheus.Metric) error {
	t, err := in.show(ctx, "STATS")
	if err == nil {
		emitStats(in.name, t, ch)
	}
	return err
}

func (in *instance) databases(ctx context.Context, ch chan<- prometheus.Metric) error {
	t, err := in.show(ctx, "DATABASES")
	if err == nil {
		emitDatabases(in.name, t, ch)
	}
	return err
}

func (in *instance) lists(ctx context.Context, ch chan<- prometheus.Metric) error {
	t, err := in.show(ctx, "LISTS")
	if err == nil {
		emitLists(in.name, t, ch)
	}
	return err
}

func (in *instance) config(ctx context.Context, ch chan<- prometheus.Metric) error {
	t, err := in.show(ctx, "CONFIG")
	if err == nil {
		emitConfig(in.name, t, ch)
	}
	return err
}

func emitPools(bouncer string, t *table, ch chan<- prometheus.Metric) {
	for _, row := range t.rows {
		labels := []string{bouncer, t.text(row, "database"), t.text(row, "user")}
		emitColumns(ch, t, row, poolColumns, labels)
		wait, ok := t.number(row, "maxwait")
		if us, ok2 := t.number(row, "maxwait_us"); ok2 {
			wait += us / 1e6
		}
		if ok {
			poolMaxWait.Emit(ch, wait, labels...)
		}
	}
}

func emitStats(bouncer string, t *table, ch chan<- prometheus.Metric) {
	for _, row := range t.rows {
		emitColumns(ch, t, row, statsColumns, []string{bouncer, t.text(row, "database")})
	}
}

func emitDatabases(bouncer string, t *table, ch chan<- prometheus.Metric) {
	for _, row := range t.rows {
		labels := []string{bouncer}
		for _, l := range databaseLabels {
			labels = append(labels, t.text(row, l))
		}
		emitColumns(ch, t, row, databaseColumns, labels)
		// Newer PgBouncers call reserve_pool reserve_pool_size.
		if _, old := t.cols["reserve_pool"]; !old {
			emitColumns(ch, t, row, []column{{"reserve_pool_size", reservePoolMetric(), 1}}, labels)
		}
	}
}

func reservePoolMetric() *metric.Metric {
	for _, c := range databaseColumns {
		if c.name == "reserve_pool" {
			return c.metric
		}
	}
	return nil
}

func emitLists(bouncer string, t *table, ch chan<- prometheus.Metric) {
	for _, row := range t.rows {
		m := listItems[t.text(row, "list")]
		if v, ok := t.number(row, "items"); ok && m != nil {
			m.Emit(ch, v, bouncer)
		}
	}
}

func emitConfig(bouncer string, t *table, ch chan<- prometheus.Metric) {
	values := map[string]string{}
	for _, row := range t.rows {
		values[t.text(row, "key")] = t.text(row, "value")
	}
	for _, c := range configColumns {
		s, ok := values[c.name]
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			c.metric.Emit(ch, v*c.scale, bouncer)
		}
	}
}
