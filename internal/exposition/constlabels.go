package exposition

import (
	"slices"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
)

// ConstLabels are label pairs added to every series of a response (an
// operator's cluster or env). They are made once per configuration: their
// rendered pairs at once, and for each block shape, on its first scrape,
// where the pairs go among the shape's labels and the rendered text to put
// there. A series that already has one of the names keeps its own value.
type ConstLabels struct {
	names, values []string // by name
	pairs         []string // name="value", escaped
	plans         sync.Map // *Shape -> *labelPlan
}

// NewConstLabels makes the constant labels of a configuration; nil or empty
// labels give nil, which adds nothing. Names must be valid legacy label
// names; values that are not valid UTF-8 have their bad bytes replaced, as
// object labels do.
func NewConstLabels(labels map[string]string) *ConstLabels {
	if len(labels) == 0 {
		return nil
	}
	c := &ConstLabels{}
	for name := range labels {
		c.names = append(c.names, name)
	}
	slices.Sort(c.names)
	for _, name := range c.names {
		v := strings.ToValidUTF8(labels[name], "\uFFFD")
		c.values = append(c.values, v)
		c.pairs = append(c.pairs, name+`="`+quotedEscaper.Replace(v)+`"`)
	}
	return c
}

// labelPlan says how a shape's series are written with the constant
// labels.
type labelPlan struct {
	inserts []insert
	// The label names of a series in label-name order, and where each
	// value comes from: the object's labels (-1), or values[i] (i).
	names  []string
	from   []int
	values []string // the constant labels' values, by name
}

// insert is rendered constant pairs that go before the shape's gap-th
// label name (in label-name order), with the commas that join them.
type insert struct {
	gap  int
	text string
}

// plan returns how s's series are written, nil when nothing is added (no
// constant labels, or every name is already one of the shape's).
func (c *ConstLabels) plan(s *Shape) *labelPlan {
	if c == nil {
		return nil
	}
	if p, ok := c.plans.Load(s); ok {
		return p.(*labelPlan)
	}
	p := &labelPlan{values: c.values}
	byGap := map[int][]string{}
	i, j := 0, 0 // next constant label, next shape name
	for i < len(c.names) || j < len(s.sorted) {
		switch {
		case i < len(c.names) && j < len(s.sorted) && c.names[i] == s.sorted[j]:
			i++ // the object's own value is kept
		case i < len(c.names) && (j == len(s.sorted) || c.names[i] < s.sorted[j]):
			byGap[j] = append(byGap[j], c.pairs[i])
			p.names, p.from = append(p.names, c.names[i]), append(p.from, i)
			i++
		default:
			p.names, p.from = append(p.names, s.sorted[j]), append(p.from, -1)
			j++
		}
	}
	if len(byGap) == 0 {
		p = nil
	}
	for gap := 0; gap <= len(s.sorted) && p != nil; gap++ {
		pairs, ok := byGap[gap]
		if !ok {
			continue
		}
		text := strings.Join(pairs, ",")
		switch {
		case gap < len(s.sorted):
			text += ","
		case gap > 0:
			text = "," + text
		}
		p.inserts = append(p.inserts, insert{gap: gap, text: text})
	}
	actual, _ := c.plans.LoadOrStore(s, p)
	return actual.(*labelPlan)
}

// addTo adds the labels to gathered families' series that lack them,
// keeping each series' pairs in name order, as a registry would have them.
func (c *ConstLabels) addTo(mfs []*dto.MetricFamily) {
	if c == nil {
		return
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			n := len(m.Label)
			for i, name := range c.names {
				if !slices.ContainsFunc(m.Label[:n], func(lp *dto.LabelPair) bool { return lp.GetName() == name }) {
					m.Label = append(m.Label, &dto.LabelPair{Name: &c.names[i], Value: &c.values[i]})
				}
			}
			if len(m.Label) > n {
				slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			}
		}
	}
}
