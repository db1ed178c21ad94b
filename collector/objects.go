package collector

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
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
// is made when the sizes are read, every objects.sizes_ttl, and made again
// with the same sizes when objects are created or dropped. Between
// choices a scrape sends the chosen OIDs with one query that reads every
// object's statistics on the server and answers with a row per chosen
// object and one sum for the rest: the exporter parses a few hundred rows
// whatever the number of objects.
type choice struct {
	sizesAt time.Time
	sizes   map[int64][]float64 // by OID, as read at sizesAt
	chosen  string              // the chosen OIDs as an array literal
	shape   shape               // of the objects the choice was made from
	// restSizes sums the sizes of the objects not chosen.
	restSizes []float64
	// big lists the indexes of at least UnusedIndexMinSize, so that the
	// query can return those never scanned (indexes only).
	big string
}

// shape tells whether objects were created or dropped since a choice: their
// number and the sum of their OIDs. Objects in temporary schemas are left
// out: they come and go too often to choose again for each, and are summed
// into the rest until the next choice. A renamed object keeps its place;
// its series take the new name at once, the patterns see it at the next
// choice.
type shape struct{ n, sum int64 }

func (sh *shape) add(oid int64) {
	sh.n++
	sh.sum += oid
}

// choices keeps the current choice per target and database.
type choices struct {
	mu sync.Mutex
	m  map[[2]string]*choice
}

// get returns the choice for target/db, nil when there is none or its sizes
// are older than ttl.
func (c *choices) get(target, db string, ttl time.Duration) *choice {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.m[[2]string{target, db}]
	if ch == nil || time.Since(ch.sizesAt) >= ttl {
		return nil
	}
	return ch
}

// put stores a choice, and forgets those of targets and databases not
// scraped for a long while.
func (c *choices) put(target, db string, ch *choice, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[2]string]*choice{}
	}
	c.m[[2]string{target, db}] = ch
	for k, o := range c.m {
		if time.Since(o.sizesAt) > 2*ttl+time.Hour {
			delete(c.m, k)
		}
	}
}

// readChosen returns a scrape's rows of a per-object collector and the
// choice they were read with: the kept choice; a new one, with sizes read
// again, when there is none or its sizes are older than ttl; or a new one
// with the same sizes when read reports that objects were created or
// dropped since the choice.
func readChosen[R any](ctx context.Context, s *Scrape, cs *choices, ttl time.Duration, sizesQuery string, nSizes int,
	choose func(ctx context.Context, s *Scrape, szs map[int64][]float64, at time.Time) (*choice, error),
	read func(ctx context.Context, s *Scrape, cur *choice) (R, shape, error)) (*choice, R, error) {
	var none R
	cur := cs.get(s.Target.Name, s.Database, ttl)
	fresh := cur == nil
	if fresh {
		at := time.Now()
		szs, err := readSizes(ctx, s, sizesQuery, nSizes)
		if err != nil {
			return nil, none, fmt.Errorf("reading sizes: %w", err)
		}
		if cur, err = choose(ctx, s, szs, at); err != nil {
			return nil, none, err
		}
	}
	rows, sh, err := read(ctx, s, cur)
	if err != nil || sh == cur.shape || fresh {
		return cur, rows, err
	}
	if cur, err = choose(ctx, s, cur.sizes, cur.sizesAt); err != nil {
		return nil, none, err
	}
	rows, _, err = read(ctx, s, cur)
	return cur, rows, err
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
