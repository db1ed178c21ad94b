package collector

import "testing"

func TestWALFileEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		size float64
		want float64
		ok   bool
	}{
		{"000000010000000000000001", 16 << 20, 2 * 16 << 20, true},
		{"00000001000000020000000A", 16 << 20, 2<<32 + 11*16<<20, true},
		{"000000020000000100000003.partial", 64 << 20, 1<<32 + 4*64<<20, true},
		{"000000010000000000000002.00000028.backup", 16 << 20, 3 * 16 << 20, true},
		{"00000002.history", 16 << 20, 0, false},
		{"0000000Z0000000000000001", 16 << 20, 0, false},
	} {
		got, ok := walFileEnd(tc.name, tc.size)
		if ok != tc.ok || got != tc.want {
			t.Errorf("walFileEnd(%q, %v) = %v, %v; want %v, %v", tc.name, tc.size, got, ok, tc.want, tc.ok)
		}
	}
}
