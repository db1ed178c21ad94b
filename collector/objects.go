package collector

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
)

// candidate is one table or index competing for a series of its own.
type candidate struct {
	name     string // schema.name, for patterns and stable ties
	size     float64
	activity float64
	// due is above 0 for an object that needs maintenance: how far past the
	// threshold it is (tables only).
	due      float64
	eligible bool // passed the patterns and the minimum size
}

// pickObjects returns, for each candidate, whether it is reported one by one.
// Eligible objects due for maintenance come first, most overdue first; of
// the slots left, half go to the largest eligible objects and the rest to
// the most active ones not already chosen. Ties break by name, so the choice
// is stable between scrapes when nothing changes.
func pickObjects(cs []candidate, n int) []bool {
	chosen := make([]bool, len(cs))
	var idx, due []int
	for i := range cs {
		switch {
		case !cs[i].eligible:
		case cs[i].due > 0:
			due = append(due, i)
		default:
			idx = append(idx, i)
		}
	}
	if len(due) > 0 {
		sort.Slice(due, func(a, b int) bool {
			x, y := &cs[due[a]], &cs[due[b]]
			if x.due != y.due {
				return x.due > y.due
			}
			return x.name < y.name
		})
		if len(due) > n {
			idx = append(idx, due[n:]...) // they compete like the others
			due = due[:n]
		}
		for _, i := range due {
			chosen[i] = true
		}
		n -= len(due)
	}
	if n >= len(idx) {
		for _, i := range idx {
			chosen[i] = true
		}
		return chosen
	}
	bySize := (n + 1) / 2
	sort.Slice(idx, func(a, b int) bool {
		x, y := &cs[idx[a]], &cs[idx[b]]
		if x.size != y.size {
			return x.size > y.size
		}
		return x.name < y.name
	})
	for _, i := range idx[:bySize] {
		chosen[i] = true
	}
	rest := idx[bySize:]
	sort.Slice(rest, func(a, b int) bool {
		x, y := &cs[rest[a]], &cs[rest[b]]
		if x.activity != y.activity {
			return x.activity > y.activity
		}
		return x.name < y.name
	})
	for _, i := range rest[:n-bySize] {
		chosen[i] = true
	}
	return chosen
}

// dueFor tells how far past the maintenance thresholds a table is: the
// larger of dead rows over deadMax and changed rows over modMax when either
// reaches its threshold, else 0. A threshold of 0 is off.
func dueFor(dead, mod float64, deadMax, modMax int64) float64 {
	due := 0.0
	if deadMax > 0 && dead >= float64(deadMax) {
		due = dead / float64(deadMax)
	}
	if modMax > 0 && mod >= float64(modMax) {
		due = max(due, mod/float64(modMax))
	}
	return due
}

// eligible applies a limits section to one object.
func eligible(l *config.ObjectLimits, qualified string, size float64) bool {
	return size >= float64(l.MinSize) && l.Selected(qualified)
}

// A choice is the set of objects (tables or indexes) that one database
// reports one by one. Choosing needs every object's size and activity, so it
// is made when the sizes are read, every objects.sizes_ttl, and made again,
// with the sizes at hand, at the scrape after one that saw objects created or
// dropped. Between choices a scrape sends the chosen OIDs with one query that
// reads every object's statistics on the server and answers with a row per
// chosen object and one sum for the rest: the exporter parses a few hundred
// rows whatever the number of objects.
type choice struct {
	sizesAt time.Time
	sizes   map[int64][]float64 // by OID, as read at sizesAt (and since, for new objects)
	chosen  string              // the chosen OIDs as an array literal
	nChosen int                 // how many
	shape   shape               // of the objects the choice was made from
	// restSizes sums the sizes of the objects not chosen.
	restSizes []float64
	// big lists the indexes that, when the choice was made, had at least
	// UnusedIndexMinSize, no scan, and enforced nothing: the query returns
	// those still never scanned (indexes only; scans only grow).
	big string
}

// shape tells whether objects were created or dropped since a choice: their
// number and the sum of their OIDs. Objects in temporary schemas are left
// out (and are never chosen): they come and go too often to choose again for
// each. A renamed object keeps its place; its series take the new name at
// once, the patterns see it at the next choice.
type shape struct{ n, sum int64 }

func (sh *shape) add(oid int64) {
	sh.n++
	sh.sum += oid
}

// choices keeps, per target and database, the sizes and the current choice.
// The sizes are kept on their own so that a choice that fails does not cost
// another read of every relation's size.
type choices struct {
	mu sync.Mutex
	m  map[[2]string]*choiceEntry
}

type choiceEntry struct {
	sizesAt time.Time
	sizes   map[int64][]float64
	choice  *choice // nil, or made from these sizes
	stale   bool    // objects were created or dropped since the choice
	labels  *exposition.LabelCache[int64]
}

// labels returns the labels kept for target/db's objects, by OID (0 for the
// series of the rest).
func (c *choices) labels(target, db string, s *exposition.Shape) *exposition.LabelCache[int64] {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(target, db)
	if e.labels == nil {
		e.labels = exposition.NewLabelCache[int64](s)
	}
	return e.labels
}

func (c *choices) entry(target, db string) *choiceEntry {
	if c.m == nil {
		c.m = map[[2]string]*choiceEntry{}
	}
	k := [2]string{target, db}
	e := c.m[k]
	if e == nil {
		e = &choiceEntry{}
		c.m[k] = e
	}
	return e
}

// sizes returns the sizes for target/db unless they are older than ttl.
func (c *choices) sizes(target, db string, ttl time.Duration) (map[int64][]float64, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(target, db)
	if e.sizes == nil || time.Since(e.sizesAt) >= ttl {
		return nil, time.Time{}, false
	}
	return e.sizes, e.sizesAt, true
}

// putSizes stores sizes read at at, and forgets the targets and databases not
// scraped for a long while.
func (c *choices) putSizes(target, db string, szs map[int64][]float64, at time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(target, db)
	if !at.Equal(e.sizesAt) {
		e.choice, e.stale = nil, false
	}
	e.sizes, e.sizesAt = szs, at
	for k, o := range c.m {
		if time.Since(o.sizesAt) > 2*ttl+time.Hour {
			delete(c.m, k)
		}
	}
}

// current returns the choice made from the sizes read at at, nil when there
// is none or it is stale.
func (c *choices) current(target, db string, at time.Time) *choice {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(target, db)
	if e.choice == nil || e.stale || !e.choice.sizesAt.Equal(at) {
		return nil
	}
	return e.choice
}

// put stores a choice; markStale asks for a new one at the next scrape.
func (c *choices) put(target, db string, ch *choice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(target, db)
	e.choice, e.stale = ch, false
}

func (c *choices) markStale(target, db string, ch *choice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(target, db); e.choice == ch {
		e.stale = true
	}
}

// chooseFunc makes a choice; sizesOf returns the sizes of the given objects,
// from the cache or, for those created since it was filled, read now.
type chooseFunc func(ctx context.Context, s *Scrape, sizesOf func(oids []int64) (map[int64][]float64, error)) (*choice, error)

// onlyOIDs narrows a sizes query to the OIDs in $1.
const onlyOIDs = ` AND c.oid IN (SELECT unnest($1::oid[]))`

// readChosen returns a scrape's rows of a per-object collector and the
// choice they were read with: the kept choice, or a new one when there is
// none, its sizes are older than ttl (they are read again), or the previous
// scrape saw objects created or dropped. A scrape that sees them keeps its
// rows, with the new objects in the rest, and leaves the new choice to the
// next scrape: a database whose tables come and go pays one choice per
// scrape at most, not a second read.
func readChosen[R any](ctx context.Context, s *Scrape, cs *choices, ttl time.Duration, sizesQuery string, nSizes int,
	choose chooseFunc, read func(ctx context.Context, s *Scrape, cur *choice) (R, shape, error)) (*choice, R, error) {
	var none R
	target, db := s.Target.Name, s.Database
	szs, at, ok := cs.sizes(target, db, ttl)
	if !ok {
		at = time.Now()
		var err error
		if szs, err = readSizes(ctx, s, sizesQuery, nSizes); err != nil {
			return nil, none, fmt.Errorf("reading sizes: %w", err)
		}
		cs.putSizes(target, db, szs, at, ttl)
	}
	cur := cs.current(target, db, at)
	if cur == nil {
		sizesOf := func(oids []int64) (map[int64][]float64, error) {
			var missing []int64
			for _, o := range oids {
				if szs[o] == nil {
					missing = append(missing, o)
				}
			}
			if len(missing) == 0 {
				return szs, nil
			}
			extra, err := readSizes(ctx, s, sizesQuery+onlyOIDs, nSizes, oidArray(missing))
			if err != nil {
				return nil, fmt.Errorf("reading sizes of new objects: %w", err)
			}
			merged := make(map[int64][]float64, len(szs)+len(extra))
			for k, v := range szs {
				merged[k] = v
			}
			for k, v := range extra {
				merged[k] = v
			}
			cs.putSizes(target, db, merged, at, ttl)
			szs = merged
			return merged, nil
		}
		var err error
		if cur, err = choose(ctx, s, sizesOf); err != nil {
			return nil, none, err
		}
		cur.sizesAt = at
		cs.put(target, db, cur)
	}
	rows, sh, err := read(ctx, s, cur)
	if err == nil && sh != cur.shape {
		cs.markStale(target, db, cur)
	}
	return cur, rows, err
}

// readSizes runs a sizes query whose first column is an OID and the next n
// are sizes. A relation dropped while the query runs has NULL sizes and is
// left out.
func readSizes(ctx context.Context, s *Scrape, q string, n int, args ...any) (map[int64][]float64, error) {
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]float64{}
	for rows.Next() {
		var oid int64
		v := make([]*float64, n)
		dest := []any{&oid}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		sz := make([]float64, n)
		for i, p := range v {
			if p == nil {
				sz = nil
				break
			}
			sz[i] = *p
		}
		if sz != nil {
			out[oid] = sz
		}
	}
	return out, rows.Err()
}

// oidArray writes OIDs as an array literal for a query parameter.
func oidArray(oids []int64) string {
	b := make([]byte, 0, 2+8*len(oids))
	b = append(b, '{')
	for i, o := range oids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return string(append(b, '}'))
}
