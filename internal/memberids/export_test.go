package memberids

import (
	"strings"
	"unsafe"
	"weak"
)

// LiveIn counts the table's entries of namespace whose strings are alive.
func LiveIn(namespace string) int {
	table.Lock()
	defer table.Unlock()
	n := 0
	for _, e := range table.m {
		if p := e.p.Value(); p != nil && strings.HasPrefix(unsafe.String(p, e.n), namespace+"/") {
			n++
		}
	}
	return n
}

// Entries is the number of entries in the table, live or not.
func Entries() int {
	table.Lock()
	defer table.Unlock()
	return len(table.m)
}

// Sweep sweeps the table now.
func Sweep() {
	table.Lock()
	defer table.Unlock()
	sweep()
}

// Plant makes the table hold other (alive while the caller keeps it) under the hash of
// namespace/id, as a hash collision would.
func Plant(namespace, id, other string) {
	table.Lock()
	defer table.Unlock()
	table.m[hash(namespace, id)] = entry{p: weak.Make(unsafe.StringData(other)), n: len(other)}
}
