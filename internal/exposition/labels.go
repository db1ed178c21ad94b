package exposition

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/common/model"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// Shape is the label names of a block's families, in the order the
// families declare them.
type Shape struct {
	names  []string
	byName []int    // declared positions in label-name order
	sorted []string // the names in label-name order
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
	for _, at := range s.byName {
		s.sorted = append(s.sorted, names[at])
	}
	return s
}

// Labels are one object's label values with what the writers need, made
// once and kept between scrapes while the values stay the same. They hold
// two strings: the values in label-name order joined by NUL bytes (which
// PostgreSQL text never holds), so that comparing them orders series as
// client_golang orders them, and the rendered label set, with where each of
// its pairs after the first starts, so that constant labels can be written
// in their place between them.
type Labels struct {
	shape *Shape
	key   string   // values in label-name order, NUL-separated
	text  string   // {name="value",...} in label-name order, escaped
	cuts  []uint32 // offsets in text of the pairs after the first
}

var quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// Labels makes the labels of one object. Values that are not valid UTF-8
// (names in a SQL_ASCII database) have their bad bytes replaced, as no
// exposition format can carry them.
func (s *Shape) Labels(values ...string) *Labels {
	if len(values) != len(s.names) {
		panic("exposition: label values do not match the shape")
	}
	var key, text strings.Builder
	var cuts []uint32
	if len(s.names) > 1 {
		cuts = make([]uint32, 0, len(s.names)-1)
	}
	text.WriteByte('{')
	for i, at := range s.byName {
		v := metric.LabelValue(values[at])
		if i > 0 {
			key.WriteByte(0)
			text.WriteByte(',')
			cuts = append(cuts, uint32(text.Len()))
		}
		key.WriteString(v)
		text.WriteString(s.names[at])
		text.WriteString(`="`)
		_, _ = quotedEscaper.WriteString(&text, v)
		text.WriteByte('"')
	}
	text.WriteByte('}')
	return &Labels{shape: s, key: key.String(), text: text.String(), cuts: cuts}
}

// cut returns the offset in l.text where pairs that sort before the
// shape's gap-th label name go (gap = the number of names: before the "}").
func (l *Labels) cut(gap int) int {
	switch {
	case gap == 0:
		return 1
	case gap > len(l.cuts):
		return len(l.text) - 1
	}
	return int(l.cuts[gap-1])
}

// sorted returns the values in label-name order.
func (l *Labels) sorted() []string { return strings.Split(l.key, "\x00") }

// Values returns the label values in declared order.
func (l *Labels) Values() []string {
	out := make([]string, len(l.shape.names))
	for i, v := range l.sorted() {
		out[l.shape.byName[i]] = v
	}
	return out
}

// same reports whether l holds these values (in declared order).
func (l *Labels) same(values []string) bool {
	rest := l.key
	for i, at := range l.shape.byName {
		v, tail, found := strings.Cut(rest, "\x00")
		if found == (i == len(values)-1) {
			return false
		}
		if v != values[at] && v != strings.ToValidUTF8(values[at], "\uFFFD") {
			return false
		}
		rest = tail
	}
	return true
}

// compareLabels orders two label sets of one shape as client_golang orders
// the series of a family: by label values in label-name order.
func compareLabels(a, b *Labels) int { return strings.Compare(a.key, b.key) }

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
