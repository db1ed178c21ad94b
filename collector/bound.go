package collector

import (
	"sort"
	"strings"
)

// OtherLabel is the value every label takes on the series that adds up the
// groups a bounded breakdown leaves out.
const OtherLabel = "__other__"

// breakdown adds values up by label set and keeps a bounded number of sets,
// so that labels taken from what clients send (application_name, user and
// database names) cannot grow the series without limit.
type breakdown struct {
	width int
	sets  map[string]*labelSet
}

type labelSet struct {
	labels []string
	value  float64
}

func newBreakdown(width int) *breakdown {
	return &breakdown{width: width, sets: map[string]*labelSet{}}
}

// add adds v to the set of labels (which must have the breakdown's width).
func (b *breakdown) add(v float64, labels ...string) {
	key := strings.Join(labels, "\x00")
	if s, ok := b.sets[key]; ok {
		s.value += v
		return
	}
	b.sets[key] = &labelSet{labels: append([]string(nil), labels...), value: v}
}

// top returns the limit largest sets (ties broken by labels, so the choice
// is the same from scrape to scrape for the same data) and, if any were left
// out, one more set whose labels are all OtherLabel holding their sum. A set
// whose own labels are all OtherLabel is folded into that one.
func (b *breakdown) top(limit int) []labelSet {
	all := make([]labelSet, 0, len(b.sets))
	for _, s := range b.sets {
		all = append(all, *s)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].value != all[j].value {
			return all[i].value > all[j].value
		}
		return lessLabels(all[i].labels, all[j].labels)
	})
	other := make([]string, b.width)
	for i := range other {
		other[i] = OtherLabel
	}
	var out []labelSet
	var rest float64
	var folded bool
	for _, s := range all {
		isOther := strings.Join(s.labels, "\x00") == strings.Join(other, "\x00")
		if len(out) < limit && !isOther {
			out = append(out, s)
			continue
		}
		rest += s.value
		folded = true
	}
	if folded {
		out = append(out, labelSet{labels: other, value: rest})
	}
	return out
}

func lessLabels(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
