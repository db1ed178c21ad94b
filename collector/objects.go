package collector

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// candidate is one table or index competing for a series of its own.
type candidate struct {
	name     string // schema.name, for patterns and stable ties
	size     float64
	activity float64
	eligible bool // passed the patterns and the minimum size
}

// pickObjects returns, for each candidate, whether it is reported one by one.
// Of the n slots, half go to the largest eligible objects and the rest to the
// most active ones not already chosen; ties break by name, so the choice is
// stable between scrapes when nothing changes.
func pickObjects(cs []candidate, n int) []bool {
	chosen := make([]bool, len(cs))
	var idx []int
	for i := range cs {
		if cs[i].eligible {
			idx = append(idx, i)
		}
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

// eligible applies a limits section to one object.
func eligible(l *config.ObjectLimits, qualified string, size float64) bool {
	return size >= float64(l.MinSize) && l.Selected(qualified)
}

// sizeCache keeps relation sizes per target and database for a TTL: sizes
// cost a stat() per file, so they are read for all relations at once and
// reused between scrapes.
type sizeCache struct {
	mu sync.Mutex
	m  map[[2]string]*sizes
}

type sizes struct {
	at time.Time
	by map[int64][]float64
}

// get returns the sizes for target/db, calling load when they are older than ttl.
func (c *sizeCache) get(ctx context.Context, target, db string, ttl time.Duration, load func(context.Context) (map[int64][]float64, error)) (map[int64][]float64, error) {
	key := [2]string{target, db}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[[2]string]*sizes{}
	}
	e := c.m[key]
	c.mu.Unlock()
	if e != nil && time.Since(e.at) < ttl {
		return e.by, nil
	}
	by, err := load(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	c.mu.Lock()
	c.m[key] = &sizes{at: now, by: by}
	for k, o := range c.m {
		if now.Sub(o.at) > 2*ttl+time.Hour {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
	return by, nil
}
