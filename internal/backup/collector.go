package backup

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// Collector reports every configured backup source. It is a
// prometheus.Collector for the exporter's own registry (/metrics): the
// sources are not PostgreSQL queries and do not depend on a target.
type Collector struct {
	logger *slog.Logger

	mu      sync.Mutex
	sources []*source
}

// source is one configured backup source with its cached last result.
type source struct {
	cfg    config.BackupSource
	logger *slog.Logger

	mu        sync.Mutex
	result    *result
	refreshCh chan struct{} // closed when the running refresh ends; nil when none runs
	lastErr   string        // the error last logged, so a persisting one is logged once
}

type result struct {
	report   *Report
	err      error
	at       time.Time
	duration time.Duration
}

// NewCollector builds the collector for the configured sources.
func NewCollector(sources []config.BackupSource, logger *slog.Logger) *Collector {
	c := &Collector{logger: logger}
	for _, s := range sources {
		c.sources = append(c.sources, &source{cfg: s, logger: logger.With("backup_source", s.Name)})
	}
	return c
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range Metrics() {
		ch <- m.Desc()
	}
}

// Configure puts a new list of sources in force (on a configuration reload).
// A source whose settings did not change keeps its cached result.
func (c *Collector) Configure(sources []config.BackupSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := map[string]*source{}
	for _, s := range c.sources {
		old[s.cfg.Name] = s
	}
	next := make([]*source, 0, len(sources))
	for _, cfg := range sources {
		if s, ok := old[cfg.Name]; ok && sameSource(s.cfg, cfg) {
			next = append(next, s)
			continue
		}
		next = append(next, &source{cfg: cfg, logger: c.logger.With("backup_source", cfg.Name)})
	}
	c.sources = next
}

func sameSource(a, b config.BackupSource) bool {
	a.Line, b.Line = 0, 0
	return reflect.DeepEqual(a, b)
}

// Collect reads the sources whose cached result expired (in parallel, each
// bounded by its timeout) and reports every source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := c.sources
	c.mu.Unlock()
	var wg sync.WaitGroup
	results := make([]*result, len(sources))
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.get()
		}()
	}
	wg.Wait()
	now := time.Now()
	for i, s := range sources {
		s.emit(ch, results[i], now)
	}
}

// get returns a result no older than the TTL, reading the source if needed.
// Concurrent scrapes share one read. The read runs on its own (not the
// scrape's) context, so a scrape that gives up does not waste the work: the
// next scrape finds it in the cache.
func (s *source) get() *result {
	s.mu.Lock()
	if s.result != nil && time.Since(s.result.at) < s.cfg.TTL {
		r := s.result
		s.mu.Unlock()
		return r
	}
	done := s.refreshCh
	if done == nil {
		done = make(chan struct{})
		s.refreshCh = done
		go s.refresh(done)
	}
	s.mu.Unlock()
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.result
}

func (s *source) refresh(done chan struct{}) {
	start := time.Now()
	rep, err := s.read(context.Background())
	r := &result{report: rep, err: err, at: time.Now(), duration: time.Since(start)}
	s.mu.Lock()
	s.result = r
	s.refreshCh = nil
	s.logOutcome(r)
	s.mu.Unlock()
	close(done)
}

// logOutcome logs a failure or skipped entries when they change, not on
// every read.
func (s *source) logOutcome(r *result) {
	msg := ""
	if r.err != nil {
		msg = r.err.Error()
	} else if r.report != nil && r.report.Skipped > 0 {
		msg = r.report.SkippedExample
	}
	if msg == s.lastErr {
		return
	}
	s.lastErr = msg
	switch {
	case r.err != nil:
		s.logger.Error("backup source read failed", "type", s.cfg.Type, "err", msg)
	case msg != "":
		s.logger.Warn("backup source entries skipped", "type", s.cfg.Type, "skipped", r.report.Skipped, "example", msg)
	default:
		s.logger.Info("backup source read again without problems", "type", s.cfg.Type)
	}
}

// defaultCommands start each tool when the configuration gives no command.
var defaultCommands = map[string][]string{
	config.BackupPgBackRest: {"pgbackrest"},
	config.BackupWALG:       {"wal-g"},
	config.BackupBarman:     {"barman"},
}

// read runs the tool (or reads the directory) and parses what it finds.
func (s *source) read(ctx context.Context) (*Report, error) {
	if s.cfg.Type == config.BackupManifest {
		return readManifestDir(s.cfg.Directory)
	}
	argv := append([]string(nil), s.cfg.Command...)
	if len(argv) == 0 {
		argv = append(argv, defaultCommands[s.cfg.Type]...)
	}
	switch s.cfg.Type {
	case config.BackupPgBackRest:
		argv = append(argv, pbrArgs(s.cfg.Stanza)...)
	case config.BackupWALG:
		argv = append(argv, walgArgs...)
	case config.BackupBarman:
		argv = append(argv, barmanArgs(s.cfg.Server)...)
	}
	out, err := runTool(ctx, argv, s.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	switch s.cfg.Type {
	case config.BackupPgBackRest:
		return parsePgBackRest(out)
	case config.BackupWALG:
		return parseWALG(out)
	case config.BackupBarman:
		return parseBarman(out, s.cfg.Server)
	}
	return nil, errors.New("unknown backup source type " + s.cfg.Type)
}

func (s *source) emit(ch chan<- prometheus.Metric, r *result, now time.Time) {
	name := s.cfg.Name
	mInfo.Emit(ch, 1, name, s.cfg.Type)
	mRetention.Emit(ch, s.cfg.Retention.Seconds(), name)
	if r == nil {
		mUp.Emit(ch, 0, name)
		return
	}
	mUp.Emit(ch, b2f(r.err == nil), name)
	mDuration.Emit(ch, r.duration.Seconds(), name)
	mCacheAge.Emit(ch, now.Sub(r.at).Seconds(), name)
	if r.report == nil {
		return
	}
	mSkipped.Emit(ch, float64(r.report.Skipped), name)
	r.report.emit(ch, name, now, s.cfg.Retention, s.cfg.SizeWindow)
}
