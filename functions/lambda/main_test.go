package main

import "testing"

func TestVCPUs(t *testing.T) {
	for _, c := range []struct {
		mem     string
		visible int
		want    int
	}{
		{"", 4, 4}, {"128", 2, 1}, {"1769", 2, 1}, {"1770", 2, 2}, {"3008", 2, 2},
		{"5307", 3, 3}, {"10240", 6, 6}, {"10240", 4, 4}, {"bogus", 3, 3},
	} {
		if got := vcpus(c.mem, c.visible); got != c.want {
			t.Errorf("vcpus(%q, %d) = %d, want %d", c.mem, c.visible, got, c.want)
		}
	}
}
