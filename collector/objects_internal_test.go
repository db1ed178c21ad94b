package collector

import (
	"reflect"
	"testing"
)

func TestPickObjects(t *testing.T) {
	cs := []candidate{
		{name: "big", size: 100, activity: 1, eligible: true},
		{name: "busy", size: 1, activity: 100, eligible: true},
		{name: "mid", size: 50, activity: 50, eligible: true},
		{name: "excluded", size: 1000, activity: 1000, eligible: false},
		{name: "dead", size: 2, activity: 2, due: 2, eligible: true},
		{name: "dead2", size: 3, activity: 3, due: 1.5, eligible: true},
	}
	for _, c := range []struct {
		n    int
		want []bool
	}{
		// Due tables first, most overdue first; then size, then activity.
		{0, []bool{false, false, false, false, false, false}},
		{1, []bool{false, false, false, false, true, false}},
		{2, []bool{false, false, false, false, true, true}},
		{3, []bool{true, false, false, false, true, true}},
		{4, []bool{true, true, false, false, true, true}},
		{5, []bool{true, true, true, false, true, true}},
		{100, []bool{true, true, true, false, true, true}},
	} {
		if got := pickObjects(cs, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("top %d: chosen %v, want %v", c.n, got, c.want)
		}
	}
	// Without due objects, half the slots go by size and half by activity,
	// ties broken by name.
	plain := []candidate{
		{name: "a", size: 10, activity: 0, eligible: true},
		{name: "b", size: 10, activity: 0, eligible: true},
		{name: "c", size: 0, activity: 5, eligible: true},
		{name: "d", size: 0, activity: 5, eligible: true},
	}
	if got, want := pickObjects(plain, 2), []bool{true, false, true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("top 2 of ties: %v, want %v", got, want)
	}
}

func TestDueFor(t *testing.T) {
	for _, c := range []struct {
		dead, mod       float64
		deadMax, modMax int64
		want            float64
	}{
		{9999, 4999, 10000, 5000, 0},
		{10000, 0, 10000, 5000, 1},
		{20000, 15000, 10000, 5000, 3},
		{50000, 50000, 0, 0, 0},   // both off
		{50000, 5000, 0, 5000, 1}, // dead rows off
		{0, 0, 10000, 5000, 0},
	} {
		if got := dueFor(c.dead, c.mod, c.deadMax, c.modMax); got != c.want {
			t.Errorf("dueFor(%v, %v, %d, %d) = %v, want %v", c.dead, c.mod, c.deadMax, c.modMax, got, c.want)
		}
	}
}
