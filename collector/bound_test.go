package collector

import (
	"fmt"
	"testing"
)

func TestBreakdownKeepsTheLargestSetsAndAddsUpTheRest(t *testing.T) {
	b := newBreakdown(2)
	b.add(1, "db", "a")
	b.add(4, "db", "b")
	b.add(2, "db", "c")
	b.add(2, "db", "a") // same set again: 3 in all
	b.add(1, "db", "d")
	b.add(1, "db", "e")

	got := b.top(2)
	want := []labelSet{
		{[]string{"db", "b"}, 4},
		{[]string{"db", "a"}, 3},
		{[]string{OtherLabel, OtherLabel}, 4}, // c 2 + d 1 + e 1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("top(2) = %v, want %v", got, want)
	}
	var sum float64
	for _, s := range got {
		sum += s.value
	}
	if sum != 11 {
		t.Fatalf("bounding lost samples: sum %v, want 11", sum)
	}

	// Under the limit nothing is folded and no other-set appears.
	if got := b.top(10); len(got) != 5 {
		t.Fatalf("top(10) = %v, want the 5 sets", got)
	}
	// Limit 0 keeps only the sum.
	if got := b.top(0); fmt.Sprint(got) != fmt.Sprint([]labelSet{{[]string{OtherLabel, OtherLabel}, 11}}) {
		t.Fatalf("top(0) = %v", got)
	}
}

// Ties are broken by labels, so the same data always gives the same series.
func TestBreakdownIsStableOnTies(t *testing.T) {
	for range 20 {
		b := newBreakdown(1)
		for _, app := range []string{"z", "y", "x", "w", "v"} {
			b.add(1, app)
		}
		got := b.top(2)
		if fmt.Sprint(got) != fmt.Sprint([]labelSet{{[]string{"v"}, 1}, {[]string{"w"}, 1}, {[]string{OtherLabel}, 3}}) {
			t.Fatalf("top(2) on ties = %v", got)
		}
	}
}

// A client that names itself like the other-set cannot make a second series
// with the same labels (which the registry would reject).
func TestBreakdownFoldsARealOtherLabel(t *testing.T) {
	b := newBreakdown(1)
	b.add(5, OtherLabel)
	b.add(1, "a")
	got := b.top(3)
	if fmt.Sprint(got) != fmt.Sprint([]labelSet{{[]string{"a"}, 1}, {[]string{OtherLabel}, 5}}) {
		t.Fatalf("top(3) = %v", got)
	}
}
