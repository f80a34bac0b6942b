package cachetrim

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestTableBounded: however many distinct values pass, the table holds at most maxEntries,
// and every value comes back equal.
func TestTableBounded(t *testing.T) {
	for i := range 3 * maxEntries {
		v := fmt.Sprintf("value-%d", i)
		if got := s(v); got != v {
			t.Fatalf("s(%q) = %q", v, got)
		}
		if n := len(table.m); n > maxEntries {
			t.Fatalf("the table holds %d values after %d distinct ones, more than %d", n, i+1, maxEntries)
		}
	}
	a, b := s(fmt.Sprint("x", 1)), s(fmt.Sprint("x", 1))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the table no longer shares after starting afresh")
	}
}
