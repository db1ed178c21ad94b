package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// Meta-metrics, emitted by the framework for every scrape.
var (
	upMetric = metric.Gauge("pg_up",
		"1 if the server answered the scrape's first query, 0 if it could not be reached (or the circuit breaker is open).",
		"exporter", "all")
	successMetric = metric.Gauge("pg_scrape_collector_success",
		"1 if the collector succeeded on this scrape, 0 if it failed; datname is empty for cluster-wide collectors.",
		"exporter", "all", "collector", "datname")
	durationMetric = metric.Gauge("pg_scrape_collector_duration_seconds",
		"Time the collector took on this scrape (0 when served from its cache).",
		"exporter", "all", "collector", "datname")
	cacheAgeMetric = metric.Gauge("pg_scrape_collector_cache_age_seconds",
		"Age of the result served for a collector with a TTL cache; 0 right after it ran.",
		"exporter", "all", "collector", "datname")
	scrapeDurationMetric = metric.Gauge("pg_scrape_duration_seconds",
		"Time the whole scrape of this target took.",
		"exporter", "all")
)

// MetaMetrics are the framework's own families, for docs/metrics.md.
func MetaMetrics() []*metric.Metric {
	return []*metric.Metric{upMetric, successMetric, durationMetric, cacheAgeMetric, scrapeDurationMetric}
}

// Scraper runs a fixed set of collectors against targets.
type Scraper struct {
	instances []*Instance
	logger    *slog.Logger

	mu      sync.Mutex
	cache   map[cacheKey]*cached
	dbExts  map[cacheKey]*cachedExts
	pruneAt time.Time
}

// cacheKey identifies a cached result by the target itself, not its name:
// a target closed and made again (a reload, an evicted probe) starts afresh.
type cacheKey struct {
	target        *target.Target
	collector, db string
}

type cached struct {
	metrics []prometheus.Metric
	at      time.Time
	ttl     time.Duration
	// notApplicable: the collector said it does not apply here (a custom
	// query's predicate was false); that answer is served, as silence, for
	// the TTL like any other.
	notApplicable bool
}

type cachedExts struct {
	exts map[string]string
	at   time.Time
}

// NewScraper makes a scraper for the built collectors.
func NewScraper(instances []*Instance, logger *slog.Logger) *Scraper {
	return &Scraper{instances: instances, logger: logger, cache: map[cacheKey]*cached{}, dbExts: map[cacheKey]*cachedExts{}}
}

// dbExtensionsTTL bounds how stale a non-default database's extension list is.
const dbExtensionsTTL = 5 * time.Minute

// Scrape collects t into ch. It never fails: an unreachable server gives
// pg_up 0, a failing collector gives pg_scrape_collector_success 0. Every query
// runs under ctx, whose deadline the caller derives from the scrape timeout.
// The per-object families arrive as const metrics like the others.
func (s *Scraper) Scrape(ctx context.Context, t *target.Target, ch chan<- prometheus.Metric) {
	s.ScrapeBlocks(ctx, t, nil, ch, func(b *exposition.Block) { b.Expand(ch) })
}

// Subset is the set of collectors one scrape runs when its request names
// some (collect[] or exclude[]); nil runs every enabled collector.
type Subset map[string]bool

// Subset checks the names a request gave against the enabled collectors:
// collect[] runs those only, exclude[] all but those (node_exporter's
// parameters). Each name must be an enabled collector; the two cannot be
// combined. Neither gives nil, every collector.
func (s *Scraper) Subset(collect, exclude []string) (Subset, error) {
	if len(collect) > 0 && len(exclude) > 0 {
		return nil, errors.New("collect[] and exclude[] cannot be combined: name the collectors to run, or those to leave out")
	}
	param, names := "collect[]", collect
	if len(exclude) > 0 {
		param, names = "exclude[]", exclude
	}
	if len(names) == 0 {
		return nil, nil
	}
	enabled := map[string]bool{}
	for _, in := range s.instances {
		enabled[in.Spec.Name] = true
	}
	named := Subset{}
	for _, n := range names {
		if enabled[n] {
			named[n] = true
			continue
		}
		shown := n
		if len(shown) > 64 {
			shown = shown[:64] + "..."
		}
		if Known(n) {
			return nil, fmt.Errorf("%s=%q: that collector is not enabled on this exporter; enable it with --collector.%s or leave it out", param, shown, n)
		}
		// Built-in names only: the custom queries' names are the
		// operator's configuration, and the caller may be anyone.
		var builtin []string
		for n := range enabled {
			if Known(n) {
				builtin = append(builtin, n)
			}
		}
		sort.Strings(builtin)
		return nil, fmt.Errorf("%s=%q: no enabled collector has that name; the enabled built-in ones are %s (custom queries are custom.<name>)", param, shown, strings.Join(builtin, ", "))
	}
	if len(collect) > 0 {
		return named, nil
	}
	out := Subset{}
	for n := range enabled {
		if !named[n] {
			out[n] = true
		}
	}
	return out, nil
}

// ScrapeBlocks is Scrape with the per-object families handed to blocks
// (from one goroutine at a time) rather than sent to ch, for
// exposition.Serve to write, and only the collectors in only (all if nil).
func (s *Scraper) ScrapeBlocks(ctx context.Context, t *target.Target, only Subset, ch chan<- prometheus.Metric, blocks func(*exposition.Block)) {
	all := make(chan prometheus.Metric, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range all {
			if b, ok := m.(*exposition.Block); ok {
				blocks(b)
				continue
			}
			ch <- m
		}
	}()
	s.scrape(ctx, t, only, all)
	close(all)
	<-done
}

func (s *Scraper) scrape(ctx context.Context, t *target.Target, only Subset, ch chan<- prometheus.Metric) {
	start := time.Now()
	defer func() { scrapeDurationMetric.Emit(ch, time.Since(start).Seconds()) }()

	conn, err := t.Acquire(ctx, "")
	var ce *target.ConnectError
	if err != nil && !errors.As(err, &ce) && !errors.Is(err, target.ErrCircuitOpen) {
		// Every connection stayed busy with other scrapes until the deadline:
		// nothing is known about the server, so pg_up is left out rather
		// than reported as 0.
		s.logger.Warn("no free connection before the scrape deadline; raise connection.max_connections or the scrape timeout",
			"target", t.Name, "err", err)
		return
	}
	var facts *target.Facts
	if err == nil {
		facts, err = t.Facts(ctx, conn)
		if err != nil {
			conn.Release(err)
		}
	}
	if err != nil {
		t.NoteDown(err)
		upMetric.Emit(ch, 0)
		return
	}
	t.NoteUp()
	upMetric.Emit(ch, 1)

	var cluster, perDB []*Instance
	for _, in := range s.instances {
		if only != nil && !only[in.Spec.Name] {
			continue
		}
		if in.Spec.Scope == Database {
			perDB = append(perDB, in)
		} else {
			cluster = append(cluster, in)
		}
	}
	var dbs []string
	if len(perDB) > 0 {
		dbs, err = t.Databases(ctx, conn)
		if err != nil {
			s.logger.Warn("database discovery failed; database-scoped collectors skipped this scrape", "target", t.Name, "err", err)
		}
	}
	conn.Release(err)

	// One job per cluster-wide collector. The database-scoped collectors run
	// one job per collector and database while there are no more databases
	// than workers, so the two slow per-object reads of a large database
	// (tables, indexes) run side by side; with more databases, one job per
	// database, so that each database costs one connection per scrape (a
	// connection serves one database, and the pool is capped). As many
	// workers as the pool has connections; more would only wait. A pool
	// shared with the server's other targets may be busy with their
	// scrapes too: the workers then wait their turn within the deadline.
	type job struct {
		db  string
		ins []*Instance
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	workers := t.Pool.Stats().Max
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.runJob(ctx, t, facts, j.db, j.ins, ch)
			}
		}()
	}
	for _, in := range cluster {
		jobs <- job{db: "", ins: []*Instance{in}}
	}
	for _, db := range dbs {
		if len(dbs) > workers {
			jobs <- job{db: db, ins: perDB}
			continue
		}
		for _, in := range perDB {
			jobs <- job{db: db, ins: []*Instance{in}}
		}
	}
	close(jobs)
	wg.Wait()
	s.prune()
}

// runJob runs collectors on one connection to db ("" for the target's own
// database, reported with an empty datname label).
func (s *Scraper) runJob(ctx context.Context, t *target.Target, facts *target.Facts, db string, ins []*Instance, ch chan<- prometheus.Metric) {
	// Serve what the cache can before taking a connection.
	var todo []*Instance
	for _, in := range ins {
		if !s.serveCached(t, in, db, ch) {
			todo = append(todo, in)
		}
	}
	if len(todo) == 0 {
		return
	}
	fail := func(err error) {
		for _, in := range todo {
			s.report(ch, t, in, db, 0, err)
		}
	}
	if ctx.Err() != nil {
		fail(fmt.Errorf("scrape deadline reached before the collector ran: %w", context.Cause(ctx)))
		return
	}
	conn, err := t.Acquire(ctx, db)
	if err != nil {
		fail(err)
		return
	}
	var lastErr error
	defer func() { conn.Release(lastErr) }()
	exts := facts.Extensions
	if db != "" && db != facts.Database {
		exts, err = s.extensions(ctx, t, conn, db)
		if err != nil {
			lastErr = err
			fail(err)
			return
		}
	}
	sc := &Scrape{Target: t, Facts: facts, Conn: conn, Database: conn.DB(), Extensions: exts}
	for i, in := range todo {
		if ok, why := in.runsOn(facts, exts); !ok {
			s.logger.Debug("collector skipped", "collector", in.Spec.Name, "target", t.Name, "datname", db, "reason", why)
			continue
		}
		if conn.IsClosed() {
			s.report(ch, t, in, db, 0, errors.New("connection lost during the scrape"))
			continue
		}
		begin := time.Now()
		var buf *[]prometheus.Metric
		out := ch
		var tee chan prometheus.Metric
		var done chan struct{}
		if in.TTL > 0 {
			buf = new([]prometheus.Metric)
			tee = make(chan prometheus.Metric)
			done = make(chan struct{})
			go func() {
				for m := range tee {
					*buf = append(*buf, m)
					ch <- m
				}
				close(done)
			}()
			out = tee
		}
		err := s.update(ctx, in, sc, out)
		if tee != nil {
			close(tee)
			<-done
		}
		if err != nil && !errors.Is(err, ErrNotApplicable) {
			lastErr = err
		}
		if err == nil && buf != nil {
			s.store(t, in, db, *buf, false)
			cacheAgeMetric.Emit(ch, 0, in.Spec.Name, db)
		}
		if errors.Is(err, ErrNotApplicable) && buf != nil {
			s.store(t, in, db, nil, true)
		}
		s.report(ch, t, in, db, time.Since(begin), err)
		if errors.Is(err, target.ErrSessionUnusable) {
			// Whatever the collector left half-read makes the session
			// unusable: the pool closes it on release, and the collectors
			// left in this job wait for the next scrape.
			for _, rest := range todo[i+1:] {
				s.report(ch, t, rest, db, 0, fmt.Errorf("not run: %w", err))
			}
			return
		}
	}
}

// panicError is a collector's panic, turned into its failure on one scrape.
type panicError struct{ value any }

func (e *panicError) Error() string {
	return fmt.Sprintf("the collector failed with a bug (panic: %v); the exporter's log has the stack, please report it", e.value)
}

// Unwrap makes a panic's session one the pool retires.
func (e *panicError) Unwrap() error { return target.ErrSessionUnusable }

// update runs one collector. A panic in it (a bug: a series built with the
// wrong number of labels, say) fails that collector on this scrape, logged
// with its stack, rather than ending the exporter and every other scrape.
func (s *Scraper) update(ctx context.Context, in *Instance, sc *Scrape, out chan<- prometheus.Metric) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("collector panicked", "collector", in.Spec.Name, "target", sc.Target.Name, "datname", sc.Database,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = &panicError{value: r}
		}
	}()
	return in.Collector.Update(ctx, sc, out)
}

// characterNotInRepertoire is SQLSTATE 22021: text not valid in the
// session's encoding.
const characterNotInRepertoire = "22021"

func (s *Scraper) report(ch chan<- prometheus.Metric, t *target.Target, in *Instance, db string, d time.Duration, err error) {
	if errors.Is(err, ErrNotApplicable) {
		s.logger.Debug("collector does not apply", "collector", in.Spec.Name, "target", t.Name, "datname", db)
		return
	}
	ok := 1.0
	if err != nil {
		ok = 0
		if errors.Is(err, ErrNoData) {
			s.logger.Debug("collector found no data", "collector", in.Spec.Name, "target", t.Name, "datname", db)
		} else if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == characterNotInRepertoire {
			// The server checks what it sends against the session's UTF8:
			// a SQL_ASCII database holding a name in another encoding
			// fails every read that returns the name.
			s.logger.Warn("collector failed: an object name in this database is not valid UTF-8 (a SQL_ASCII database holding names in another encoding); rename the object or leave the database out with databases.exclude",
				"collector", in.Spec.Name, "target", t.Name, "datname", db, "err", err)
		} else {
			s.logger.Warn("collector failed", "collector", in.Spec.Name, "target", t.Name, "datname", db, "err", err)
		}
	}
	successMetric.Emit(ch, ok, in.Spec.Name, db)
	durationMetric.Emit(ch, d.Seconds(), in.Spec.Name, db)
}

func (s *Scraper) serveCached(t *target.Target, in *Instance, db string, ch chan<- prometheus.Metric) bool {
	if in.TTL <= 0 {
		return false
	}
	s.mu.Lock()
	c := s.cache[cacheKey{t, in.Spec.Name, db}]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	age := time.Since(c.at)
	if age >= in.TTL {
		return false
	}
	if c.notApplicable {
		return true
	}
	for _, m := range c.metrics {
		ch <- m
	}
	cacheAgeMetric.Emit(ch, age.Seconds(), in.Spec.Name, db)
	successMetric.Emit(ch, 1, in.Spec.Name, db)
	durationMetric.Emit(ch, 0, in.Spec.Name, db)
	return true
}

func (s *Scraper) store(t *target.Target, in *Instance, db string, ms []prometheus.Metric, notApplicable bool) {
	s.mu.Lock()
	s.cache[cacheKey{t, in.Spec.Name, db}] = &cached{metrics: ms, at: time.Now(), ttl: in.TTL, notApplicable: notApplicable}
	s.mu.Unlock()
}

func (s *Scraper) extensions(ctx context.Context, t *target.Target, conn *target.Conn, db string) (map[string]string, error) {
	key := cacheKey{target: t, db: db}
	s.mu.Lock()
	c := s.dbExts[key]
	s.mu.Unlock()
	if c != nil && time.Since(c.at) < dbExtensionsTTL {
		return c.exts, nil
	}
	exts, err := target.Extensions(ctx, conn)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.dbExts[key] = &cachedExts{exts: exts, at: time.Now()}
	s.mu.Unlock()
	return exts, nil
}

// prune drops cache entries that have long expired (targets gone, databases
// dropped), at most once a minute.
func (s *Scraper) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Before(s.pruneAt) {
		return
	}
	s.pruneAt = now.Add(time.Minute)
	for k, c := range s.cache {
		if now.Sub(c.at) > 2*c.ttl+time.Minute {
			delete(s.cache, k)
		}
	}
	for k, c := range s.dbExts {
		if now.Sub(c.at) > 2*dbExtensionsTTL {
			delete(s.dbExts, k)
		}
	}
}
