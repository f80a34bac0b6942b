package cachetrim

import (
	"fmt"
	"reflect"
	"testing"
)

// TestLabelTableBounded: once the table holds maxLabelSets sets, new sets keep their own maps
// (equal and interned), the sets already shared stay shared, and CheckShared still watches
// them all.
func TestLabelTableBounded(t *testing.T) {
	labelTable.Lock()
	saved := labelTable.m
	labelTable.m = make(map[string]*sharedLabels)
	labelTable.Unlock()
	t.Cleanup(func() {
		labelTable.Lock()
		labelTable.m = saved
		labelTable.Unlock()
	})
	first := labels(map[string]string{"org": "first"})
	for i := range 2 * maxLabelSets {
		labels(map[string]string{"org": fmt.Sprint("o-", i)})
		if n := len(labelTable.m); n > maxLabelSets {
			t.Fatalf("the label table holds %d sets, more than %d", n, maxLabelSets)
		}
	}
	a, b := map[string]string{"org": "late"}, map[string]string{"org": "late"}
	if la, lb := labels(a), labels(b); reflect.ValueOf(la).UnsafePointer() == reflect.ValueOf(lb).UnsafePointer() || la["org"] != "late" {
		t.Errorf("a set arriving after the table filled is shared, or changed: %v %v", la, lb)
	}
	again := labels(map[string]string{"org": "first"})
	if reflect.ValueOf(again).UnsafePointer() != reflect.ValueOf(first).UnsafePointer() {
		t.Error("a set shared before the table filled is no longer shared")
	}
	first["org"] = "changed"
	if err := CheckShared(); err == nil {
		t.Error("CheckShared misses a write into a full table's map")
	}
	first["org"] = "first"
	if err := CheckShared(); err != nil {
		t.Error(err)
	}
}
