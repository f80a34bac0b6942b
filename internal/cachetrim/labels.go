package cachetrim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Labels maps are shared: every OrgUser of an organization carries the same
// {scim.roster.dev/org: <org>}, every slice of a team the same few labels, and a small Go map
// costs ~300 B per object. The transform replaces an object's labels map by the table's
// canonical map for that label set.
//
// Why this is safe, and how it stays so: readers with client.UnsafeDisableDeepCopy, the
// ordered index (internal/order) and event handlers get the cached object itself, so a write
// into its labels would change every object sharing the map. None of them writes (audited;
// they copy with DeepCopy before any change, and DeepCopy copies the map). A Go map cannot be
// made read-only, so the table remembers what each canonical map held, and CheckShared, run
// by the test environment after every package's tests, fails the run if one was changed.

// maxLabels is the largest label set shared: Roster's objects carry one to three labels;
// bigger sets are rare and each its own.
const maxLabels = 4

// maxLabelSets bounds the label table: an install has a few label sets per organization and
// team. Once full, further sets keep their own maps; the table is never started afresh, so
// that CheckShared keeps watching every map it handed out.
const maxLabelSets = 16384

type sharedLabels struct {
	m    map[string]string // the canonical map objects point at
	want map[string]string // a private copy of its content, for CheckShared
}

var labelTable = struct {
	sync.Mutex
	m map[string]*sharedLabels
}{m: make(map[string]*sharedLabels)}

// labels returns the table's canonical map equal to m, or m itself (its strings interned)
// when m is empty, too big to share, or the table is full.
func labels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	if len(m) > maxLabels {
		internMap(m, true)
		return m
	}
	key := labelKey(m)
	labelTable.Lock()
	defer labelTable.Unlock()
	if c, ok := labelTable.m[key]; ok {
		return c.m
	}
	internMap(m, true)
	if len(labelTable.m) >= maxLabelSets {
		return m
	}
	labelTable.m[key] = &sharedLabels{m: m, want: maps.Clone(m)}
	return m
}

// labelKey encodes m canonically: its entries sorted by key, each key and value
// length-prefixed, so that no two distinct maps have the same key.
func labelKey(m map[string]string) string {
	var buf [maxLabels]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%s%d:%s", len(k), k, len(m[k]), m[k])
	}
	return b.String()
}

// CheckShared reports every shared labels map whose content is no longer what the transform
// put in it: some reader of the cache wrote into a cached object's labels (through
// client.UnsafeDisableDeepCopy, the ordered index or an event handler) instead of a copy, and
// so changed the labels of every cached object sharing that map.
func CheckShared() error {
	labelTable.Lock()
	defer labelTable.Unlock()
	var changed []string
	for _, c := range labelTable.m {
		if !maps.Equal(c.m, c.want) {
			changed = append(changed, fmt.Sprintf("%v became %v", c.want, c.m))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	return fmt.Errorf("cachetrim: %d shared labels map(s) written in place (a cached object was changed without a copy): %s",
		len(changed), strings.Join(changed, "; "))
}
