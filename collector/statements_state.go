package collector

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
)

// StatementBuckets are the upper bounds of pg_statement_duration_seconds. They
// hold 0.1 and 0.5 exactly, so latency objectives such as P95 < 100 ms, P99 < 500 ms and a
// 500 ms slow-query threshold are exact bucket ratios.
var StatementBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// The counters of one pg_stat_statements entry, in this order.
const (
	stCalls = iota
	stExecTime
	stPlanTime
	stRows
	stSharedHit
	stSharedRead
	stSharedDirtied
	stSharedWritten
	stLocalHit
	stLocalRead
	stLocalDirtied
	stLocalWritten
	stTempRead
	stTempWritten
	stBlkReadTime
	stBlkWriteTime
	stWALRecords
	stWALFPI
	stWALBytes
	stNum
)

// StmtCounters are one entry's cumulative counters (times in seconds).
type StmtCounters [stNum]float64

// StmtKey identifies a pg_stat_statements entry.
type StmtKey struct {
	DBID, UserID uint32
	QueryID      int64
}

// StmtRow is one entry as read from pg_stat_statements.
type StmtRow struct {
	Key      StmtKey
	Datname  string
	Usename  string
	C        StmtCounters
	Since    float64 // stats_since (1.11+), 0 where unknown
	hasSince bool
}

// StmtInfo is pg_stat_statements_info (1.9+); Known is false before.
type StmtInfo struct {
	Known   bool
	Dealloc float64
	Reset   float64
}

type dbUser struct{ datname, usename string }

// NativeSchema is the schema of the native form of pg_statement_duration_seconds:
// 8 buckets per power of two, each bound 2^(1/8) (about 9 %) above the last,
// the resolution client_golang picks for a bucket factor of 1.1.
const NativeSchema = 3

// NativeZeroThreshold bounds the native zero bucket (client_golang's default):
// only a mean of exactly 0 s falls in it.
const NativeZeroThreshold = 0x1p-128

// nativeFracBounds are the upper bounds of the NativeSchema buckets within one
// power of two, as fractions in [0.5, 1) the way math.Frexp splits a float.
var nativeFracBounds = func() []float64 {
	b := make([]float64, 1<<NativeSchema)
	for i := range b {
		b[i] = math.Exp2(float64(i)/float64(len(b)) - 1)
	}
	return b
}()

// NativeIndex is the index of the NativeSchema bucket holding v > 0: the
// bucket i covers (2^((i-1)/8), 2^(i/8)].
func NativeIndex(v float64) int {
	frac, exp := math.Frexp(v)
	return sort.SearchFloat64s(nativeFracBounds, frac) + (exp-1)*len(nativeFracBounds)
}

// LatencyHistogram accumulates statement latencies for one database, in
// classic buckets (StatementBuckets) and native ones (NativeSchema) at once.
type LatencyHistogram struct {
	Counts []uint64 // per bucket, not cumulative; the last is +Inf
	Sum    float64
	Zero   uint64        // native zero bucket
	Native map[int]int64 // native positive buckets by index
	// Slowest is the entry with the highest interval mean in the last
	// Apply, and that mean (seconds); Calls is 0 when the last Apply
	// observed nothing for this database.
	Slowest SlowestStmt
}

// SlowestStmt is one entry's interval mean.
type SlowestStmt struct {
	QueryID int64
	Mean    float64
	Calls   uint64
}

func newLatencyHistogram() *LatencyHistogram {
	return &LatencyHistogram{Counts: make([]uint64, len(StatementBuckets)+1), Native: map[int]int64{}}
}

// observe adds n observations of v seconds, whose total is sum seconds.
func (h *LatencyHistogram) observe(v float64, n uint64, sum float64) {
	i := sort.SearchFloat64s(StatementBuckets, v) // first bound >= v
	h.Counts[i] += n
	h.Sum += sum
	if v <= NativeZeroThreshold {
		h.Zero += n
	} else {
		h.Native[NativeIndex(v)] += int64(n)
	}
}

// Cumulative returns the counts per upper bound and the total count.
func (h *LatencyHistogram) Cumulative() ([]uint64, uint64) {
	out := make([]uint64, len(StatementBuckets))
	var c uint64
	for i := range StatementBuckets {
		c += h.Counts[i]
		out[i] = c
	}
	return out, c + h.Counts[len(StatementBuckets)]
}

// StmtState is what the statements collector remembers about one target
// between scrapes: the last snapshot of every entry, the accumulated latency
// histogram per database and monotonic totals per database and user. Scrapes
// of one target take the state in turn (lock), so two Prometheus servers
// scraping at once each see the delta against the other's snapshot, never
// the same interval twice.
type StmtState struct {
	lock     chan struct{}
	entries  map[StmtKey]stmtSeen
	info     StmtInfo
	baseline bool
	Hist     map[string]*LatencyHistogram
	Totals   map[dbUser]*StmtCounters
	// labels of the top statements, kept between scrapes
	labels *exposition.LabelCache[StmtKey]
	// when each user's totals and each database's histogram last had an
	// entry in a snapshot
	totalsSeen map[dbUser]time.Time
	histSeen   map[string]time.Time
	now        func() time.Time
}

type stmtSeen struct {
	c        StmtCounters
	since    float64
	hasSince bool
}

// NewStmtState makes an empty state.
func NewStmtState() *StmtState {
	return &StmtState{
		lock:    make(chan struct{}, 1),
		entries: map[StmtKey]stmtSeen{},
		Hist:    map[string]*LatencyHistogram{},
		Totals:  map[dbUser]*StmtCounters{},
		labels:  exposition.NewLabelCache[StmtKey](topShape),

		totalsSeen: map[dbUser]time.Time{},
		histSeen:   map[string]time.Time{},
		now:        time.Now,
	}
}

// Len is the number of entries in the last snapshot.
func (s *StmtState) Len() int { return len(s.entries) }

// Acquire takes the state for one scrape, waiting at most until ctx ends.
func (s *StmtState) Acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Release gives the state back.
func (s *StmtState) Release() { <-s.lock }

// Apply folds a new snapshot into the state. Each entry contributes the
// difference to its previous snapshot; an entry that is new, was evicted and
// re-created (stats_since moved, or calls went down), or follows a full
// reset (stats_reset moved) contributes its whole counters, which all
// accrued since then. Counts lost between the last snapshot and an eviction
// or reset are not recovered; nothing is ever subtracted or counted twice.
// The first snapshot only sets the baseline (its totals start at the
// entries' counters; the histogram gets no observations, as the interval
// they belong to is unknown).
func (s *StmtState) Apply(rows []StmtRow, info StmtInfo) {
	fullReset := s.baseline && info.Known && s.info.Known && info.Reset != s.info.Reset
	now := s.now()
	next := make(map[StmtKey]stmtSeen, len(rows))
	for _, h := range s.Hist {
		h.Slowest = SlowestStmt{}
	}
	for i := range rows {
		r := &rows[i]
		next[r.Key] = stmtSeen{c: r.C, since: r.Since, hasSince: r.hasSince}
		du := dbUser{r.Datname, r.Usename}
		tot := s.Totals[du]
		if tot == nil {
			tot = &StmtCounters{}
			s.Totals[du] = tot
		}
		h := s.Hist[r.Datname]
		if h == nil {
			h = newLatencyHistogram()
			s.Hist[r.Datname] = h
		}
		s.totalsSeen[du], s.histSeen[r.Datname] = now, now
		d := r.C
		if s.baseline && !fullReset {
			if prev, ok := s.entries[r.Key]; ok && !(prev.hasSince && r.hasSince && prev.since != r.Since) {
				var diff StmtCounters
				negative := false
				for j := range diff {
					diff[j] = r.C[j] - prev.c[j]
					if diff[j] < 0 {
						negative = true
					}
				}
				if !negative {
					d = diff
				}
			}
		}
		for j := range d {
			tot[j] += d[j]
		}
		if s.baseline && d[stCalls] >= 1 {
			n, mean := uint64(d[stCalls]), d[stExecTime]/d[stCalls]
			h.observe(mean, n, d[stExecTime])
			if h.Slowest.Calls == 0 || mean > h.Slowest.Mean {
				h.Slowest = SlowestStmt{QueryID: r.Key.QueryID, Mean: mean, Calls: n}
			}
		}
	}
	for du, at := range s.totalsSeen {
		if now.Sub(at) > stmtForgetAfter {
			delete(s.Totals, du)
			delete(s.totalsSeen, du)
		}
	}
	for db, at := range s.histSeen {
		if now.Sub(at) > stmtForgetAfter {
			delete(s.Hist, db)
			delete(s.histSeen, db)
		}
	}
	s.entries = next
	s.info = info
	s.baseline = true
}

// stmtForgetAfter: the totals of a user and the histogram of a database
// that pg_stat_statements has had no entry of for this long are dropped, so
// that short-lived users and databases do not add series forever. A total
// that comes back starts again from its entries' counters, which Prometheus
// reads as a counter reset; an absence shorter than this (a full reset, an
// eviction) keeps it monotonic.
const stmtForgetAfter = time.Hour

// stmtStates holds a StmtState per target name.
type stmtStates struct {
	mu   sync.Mutex
	m    map[string]*StmtState
	used map[string]time.Time
}

// get returns the target's state, dropping states unused for an hour
// (targets that went away).
func (ss *stmtStates) get(target string) *StmtState {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m, ss.used = map[string]*StmtState{}, map[string]time.Time{}
	}
	st := ss.m[target]
	if st == nil {
		st = NewStmtState()
		ss.m[target] = st
	}
	now := time.Now()
	ss.used[target] = now
	for name, at := range ss.used {
		if now.Sub(at) > time.Hour {
			delete(ss.m, name)
			delete(ss.used, name)
		}
	}
	return st
}
