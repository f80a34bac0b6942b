// Package memberids is the cache's transform of OrgTeamMemberSlices: it makes the member ids
// that several slices list share one string, and holds each slice's members in an array of
// exactly their number.
//
// Why: the informer decodes every slice on its own, so a user in five teams has its id
// allocated five times, and the decoder's []string keeps append slack. At 100,000 users and
// 519,800 memberships those copies were the cache's largest item after the users themselves
// (docs/benchmarks.md, "Cached memberships, interned").
//
// The table holds "<namespace>/<id>" strings weakly (weak.Pointer to their bytes), keyed by a
// hash: a slice's member is the part after the slash, and the SliceMember index
// (internal/index) uses the whole string as its key, so the index's key and every slice's copy
// are one allocation. The table never keeps a string alive: an entry lives exactly as long as
// something else (a cached slice, the index) holds its string; once the last slice listing an
// id is gone (its user deleted, its teams changed) the garbage collector frees the string and
// the entry is swept. So the table needs no event handlers, no reference counts kept in step
// with the informers, and no order between the users' and the slices' informers; a slice
// listing an id no user has (yet) gets it interned like any other. It holds at most about
// twice the ids that were alive at its last sweep, plus what was interned since (see sweep):
// after a mass deletion, dead entries (16 B each, their strings freed) stay until the next
// sweep.
//
// Neither cachetrim's table nor Go's unique package fits: the former is bounded by a count
// and started afresh, so it would forget ids still in use; the latter keeps a value only
// while a unique.Handle lives, and a slice keeps only the string (internal/cachetrim).
package memberids

import (
	"hash/maphash"
	"sync"
	"unsafe"
	"weak"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachetrim"
)

// Transform is the cache's transform of OrgTeamMemberSlices: cachetrim's, then members
// interned (see the package comment). Any other object gets cachetrim's transform only.
//
// A reader sees the same members in the same order: strings are replaced by equal strings,
// and the slice's member array by a new one (the decoded one is not written to, and a slice
// whose members are already the table's, as a stored object handed back to the transform
// would be, is left as it is).
func Transform(obj any) (any, error) {
	out, err := cachetrim.Transform(obj)
	if err != nil {
		return nil, err
	}
	if s, ok := out.(*rosterv1.OrgTeamMemberSlice); ok {
		if m := internAll(s.Namespace, s.Spec.Members); len(m) > 0 && &m[0] != &s.Spec.Members[0] {
			s.Spec.Members = m
		}
	}
	return out, nil
}

// Keys returns namespace+"/"+id for each of ids, the SliceMember index's keys: the table's
// own strings where it has them (no allocation, and the index shares them with the slices),
// else new ones.
func Keys(namespace string, ids []string) []string {
	keys := make([]string, len(ids))
	table.Lock()
	defer table.Unlock()
	for i, id := range ids {
		if c, _ := lookup(hash(namespace, id), namespace, id); c != "" {
			keys[i] = c
		} else {
			keys[i] = namespace + "/" + id
		}
	}
	return keys
}

// Holds reports whether the table holds namespace/id alive: whether some object still lists
// it. For tests and debugging; a garbage collection must have run since the last slice
// listing it went away.
func Holds(namespace, id string) bool {
	h := hash(namespace, id)
	table.Lock()
	defer table.Unlock()
	c, _ := lookup(h, namespace, id)
	return c != ""
}

// entry is one interned "<namespace>/<id>": a weak pointer to its bytes and its length.
type entry struct {
	p weak.Pointer[byte]
	n int
}

// minSweep is the table size below which stale entries are not swept.
const minSweep = 1024

var table = struct {
	sync.Mutex
	m       map[uint64]entry
	sweepAt int // len(m) at which the next sweep runs
}{m: make(map[uint64]entry), sweepAt: minSweep}

var seed = maphash.MakeSeed()

// hash hashes namespace+"/"+id without building it.
func hash(namespace, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(namespace)
	h.WriteByte('/')
	h.WriteString(id)
	return h.Sum64()
}

// lookup returns the table's "<namespace>/<id>" under hash h, if it holds that string alive.
// free reports that no live string holds h (no entry, or one whose string is gone): h may
// take a new one. Call with the table locked.
func lookup(h uint64, namespace, id string) (c string, free bool) {
	e, ok := table.m[h]
	if !ok {
		return "", true
	}
	p := e.p.Value()
	if p == nil {
		return "", true
	}
	c = unsafe.String(p, e.n)
	if len(c) == len(namespace)+1+len(id) && c[:len(namespace)] == namespace && c[len(namespace)] == '/' && c[len(namespace)+1:] == id {
		return c, false
	}
	return "", false // another live string with the same hash: neither is interned over the other
}

// internAll returns members with each id the table's string, in an array of exactly
// len(members): members itself when it is that already, else a new array (the decoded one is
// never written to).
func internAll(namespace string, members []string) []string {
	if len(members) == 0 {
		return members
	}
	var out []string
	if cap(members) != len(members) {
		out = make([]string, len(members))
	}
	table.Lock()
	defer table.Unlock()
	for i, id := range members {
		c := intern(namespace, id)
		if out == nil && !same(c, id) {
			out = make([]string, len(members))
			copy(out[:i], members[:i])
		}
		if out != nil {
			out[i] = c
		}
	}
	if out == nil {
		return members
	}
	return out
}

// same reports whether a and b are one string in memory, not only equal.
func same(a, b string) bool { return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b) }

// intern returns id as the table's string (the tail of its "<namespace>/<id>"), making one if
// there is none; id itself if it is empty or its hash is taken by another id. Call with the
// table locked.
func intern(namespace, id string) string {
	if id == "" {
		return id
	}
	h := hash(namespace, id)
	c, free := lookup(h, namespace, id)
	if c != "" {
		return c[len(namespace)+1:]
	}
	if !free {
		return id
	}
	// A new allocation of its own (id may share its bytes with something larger, e.g. a
	// decode buffer), and the only one the table points at.
	c = namespace + "/" + id
	table.m[h] = entry{p: weak.Make(unsafe.StringData(c)), n: len(c)}
	if len(table.m) >= table.sweepAt {
		sweep()
	}
	return c[len(namespace)+1:]
}

// sweep drops the entries whose strings the garbage collector has freed (a string not yet
// collected counts as alive), and sets the next sweep at twice the entries left: sweeping
// costs O(1) per interned id on average. Call with the table locked: a sweep holds the lock
// for one pass over the table (a few milliseconds at 100,000 ids), during which slice events
// wait. Why not in chunks: it runs once per doubling, and a resumable walk of a Go map under
// concurrent inserts would be more code than the pause is worth.
func sweep() {
	for h, e := range table.m {
		if e.p.Value() == nil {
			delete(table.m, h)
		}
	}
	table.sweepAt = max(2*len(table.m), minSweep)
}
