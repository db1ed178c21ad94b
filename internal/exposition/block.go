package exposition

import (
	"errors"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// A Block is part of a scrape's per-object series: families of one label
// shape and a row per object holding one value per family.
//
// A Block travels through a collector's metric channel like a metric (so
// caches that keep a collector's metrics keep it too), but it is not one:
// Serve writes it, Expand turns it into const metrics, and a registry that
// meets it reports an error.
type Block struct {
	families []*metric.Metric
	shape    *Shape
	rows     []row
	values   []float64
	sortOnce sync.Once // a cached block is served by concurrent scrapes
}

type row struct {
	labels *Labels
	values []float64 // one per family
}

// NewBlock makes an empty block for families whose labels are the shape's.
// Histograms cannot be in a block.
func NewBlock(s *Shape, families ...*metric.Metric) *Block {
	for _, f := range families {
		if f.Buckets != nil || f.Pattern || !slices.Equal(f.Labels, s.names) {
			panic("exposition: family " + f.Name + " does not fit the block's shape")
		}
	}
	return &Block{families: families, shape: s}
}

// Grow makes room for n more rows.
func (b *Block) Grow(n int) {
	b.rows = slices.Grow(b.rows, n)
	b.values = slices.Grow(b.values, n*len(b.families))
}

// Add adds an object's row: its labels (of the block's shape) and one value
// per family, in the families' order.
func (b *Block) Add(l *Labels, values ...float64) {
	if l.shape != b.shape || len(values) != len(b.families) {
		panic("exposition: row does not fit the block")
	}
	// Rows share one backing array; a grown array leaves the earlier rows on
	// the old one, which stays valid.
	start := len(b.values)
	b.values = append(b.values, values...)
	b.rows = append(b.rows, row{labels: l, values: b.values[start:len(b.values):len(b.values)]})
}

// Len is the number of rows.
func (b *Block) Len() int { return len(b.rows) }

// sort (once, when the block is first written) puts the rows in the order client_golang gives a family's series.
// The collectors' rows often come sorted already; checking costs one pass.
func (b *Block) sort() {
	cmp := func(x, y row) int { return compareLabels(x.labels, y.labels) }
	if !slices.IsSortedFunc(b.rows, cmp) {
		slices.SortStableFunc(b.rows, cmp)
	}
}

// Expand sends the block's series as const metrics, as client_golang would
// have them from a collector that made one per series.
func (b *Block) Expand(ch chan<- prometheus.Metric) {
	values := make([][]string, len(b.rows))
	for i, r := range b.rows {
		values[i] = r.labels.Values()
	}
	for f, m := range b.families {
		for i, r := range b.rows {
			m.Emit(ch, r.values[f], values[i]...)
		}
	}
}

var errBlock = errors.New("a per-object block reached a plain registry; it is written by internal/exposition or expanded with Block.Expand")

// Desc makes Block a prometheus.Metric; a registry that meets one reports
// errBlock.
func (b *Block) Desc() *prometheus.Desc { return prometheus.NewInvalidDesc(errBlock) }

// Write reports errBlock.
func (b *Block) Write(*dto.Metric) error { return errBlock }

// Blocks collects the blocks of one scrape from concurrent collectors.
type Blocks struct {
	mu   sync.Mutex
	list []*Block
}

// Add keeps a block.
func (bs *Blocks) Add(b *Block) {
	bs.mu.Lock()
	bs.list = append(bs.list, b)
	bs.mu.Unlock()
}

// List returns the blocks kept so far.
func (bs *Blocks) List() []*Block {
	if bs == nil {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return slices.Clone(bs.list)
}
