package exposition

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// Shape is the label names of a block's families, in the order the
// families declare them.
type Shape struct {
	names  []string
	byName []int // declared positions in label-name order
}

// NewShape makes a shape; label names must be valid legacy Prometheus label
// names (the collectors' names are constants).
func NewShape(names ...string) *Shape {
	s := &Shape{names: names, byName: make([]int, len(names))}
	for i, n := range names {
		if !model.LegacyValidation.IsValidLabelName(n) {
			panic("exposition: invalid label name " + n)
		}
		s.byName[i] = i
	}
	slices.SortFunc(s.byName, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	return s
}

// Labels are one object's label values with what the writers need, made
// once and kept between scrapes while the values stay the same.
type Labels struct {
	shape  *Shape
	values []string // declared order
	sorted []string // label-name order: the order series are sorted by
	text   string   // {name="value",...} in label-name order, escaped
	pairs  atomic.Pointer[[]*dto.LabelPair]
}

var quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// Labels makes the labels of one object. Values that are not valid UTF-8
// (names in a SQL_ASCII database) have their bad bytes replaced, as no
// exposition format can carry them.
func (s *Shape) Labels(values ...string) *Labels {
	if len(values) != len(s.names) {
		panic("exposition: label values do not match the shape")
	}
	l := &Labels{shape: s, values: make([]string, len(values)), sorted: make([]string, len(values))}
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range values {
		l.values[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	for i, at := range s.byName {
		v := l.values[at]
		l.sorted[i] = v
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.names[at])
		b.WriteString(`="`)
		_, _ = quotedEscaper.WriteString(&b, v)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	l.text = b.String()
	return l
}

// Values returns the label values in declared order.
func (l *Labels) Values() []string { return l.values }

// same reports whether l holds these values (in declared order).
func (l *Labels) same(values []string) bool {
	if len(values) != len(l.values) {
		return false
	}
	for i, v := range values {
		if v != l.values[i] && strings.ToValidUTF8(v, "\uFFFD") != l.values[i] {
			return false
		}
	}
	return true
}

// labelPairs returns the client_model label pairs, built on first use (only
// the formats other than text need them) and kept.
func (l *Labels) labelPairs() []*dto.LabelPair {
	if p := l.pairs.Load(); p != nil {
		return *p
	}
	ps := make([]*dto.LabelPair, len(l.sorted))
	for i, at := range l.shape.byName {
		name, value := l.shape.names[at], l.sorted[i]
		ps[i] = &dto.LabelPair{Name: &name, Value: &value}
	}
	l.pairs.Store(&ps)
	return ps
}

// compareLabels orders two label sets of one shape as client_golang orders
// the series of a family: by label values in label-name order.
func compareLabels(a, b *Labels) int {
	for i := range a.sorted {
		if c := strings.Compare(a.sorted[i], b.sorted[i]); c != 0 {
			return c
		}
	}
	return 0
}

// LabelCache keeps objects' labels between scrapes, by a key that
// identifies the object (an OID, a statement's key). Labels not asked for
// during one scrape are forgotten at the next Done.
type LabelCache[K comparable] struct {
	mu    sync.Mutex
	shape *Shape
	cur   map[K]*Labels
	next  map[K]*Labels
}

// NewLabelCache makes a cache for labels of one shape.
func NewLabelCache[K comparable](s *Shape) *LabelCache[K] {
	return &LabelCache[K]{shape: s, cur: map[K]*Labels{}, next: map[K]*Labels{}}
}

// Get returns the object's labels, made again when its values changed (a
// renamed table).
func (c *LabelCache[K]) Get(k K, values ...string) *Labels {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.next[k]
	if l == nil {
		l = c.cur[k]
	}
	if l == nil || !l.same(values) {
		l = c.shape.Labels(values...)
	}
	c.next[k] = l
	return l
}

// Done ends a scrape: the labels asked for since the last Done are kept,
// the others dropped.
func (c *LabelCache[K]) Done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.next = c.next, make(map[K]*Labels, len(c.next))
}
