package order

import "hash/maphash"

// tree is an order-statistic treap: a binary search tree kept balanced (in expectation) by
// random priorities, whose nodes count their subtree. Insert, delete, the k-th entry and the
// rank of a key are O(log n); building it from n informer adds is O(n log n).
//
// It is intrusive: the entries are its nodes, each holding its children and subtree size in
// every order (links), so an entry costs one allocation for all the trees of its list instead
// of one node per tree (docs/benchmarks.md, "Ordered index, slimmer"). An entry is therefore in
// at most one list.
type tree struct {
	s    Sort
	root *Entry
}

// links are an entry's places in its list's trees: children and subtree size per order, and
// one priority shared by every order. Sizes are int32 (a list holds far fewer than 2^31
// entries) so that the links pack into 84 bytes.
type links struct {
	l, r [numSorts]*Entry
	size [numSorts]int32
	pri  uint32
}

// priSeed keys the priorities: a hash of the object name, random per process, so that names
// chosen by a client cannot unbalance the trees.
var priSeed = maphash.MakeSeed()

// priority is an entry's treap priority, the same in every order: the orders are independent
// of a hash of the name, which is all a treap needs of its priorities.
func priority(name string) uint32 { return uint32(maphash.String(priSeed, name)) }

func newTree(s Sort) *tree { return &tree{s: s} }

func (t *tree) size(n *Entry) int {
	if n == nil {
		return 0
	}
	return int(n.size[t.s])
}

func (t *tree) fix(n *Entry) { n.size[t.s] = int32(1 + t.size(n.l[t.s]) + t.size(n.r[t.s])) }

// len is the number of entries.
func (t *tree) len() int { return t.size(t.root) }

// split cuts n into the entries before e (or at e when inclusive) and the rest.
func (t *tree) split(n *Entry, e *Entry, inclusive bool) (l, r *Entry) {
	if n == nil {
		return nil, nil
	}
	c := Compare(t.s, n, e)
	if c < 0 || (inclusive && c == 0) {
		n.r[t.s], r = t.split(n.r[t.s], e, inclusive)
		t.fix(n)
		return n, r
	}
	l, n.l[t.s] = t.split(n.l[t.s], e, inclusive)
	t.fix(n)
	return l, n
}

func (t *tree) merge(l, r *Entry) *Entry {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.pri > r.pri:
		l.r[t.s] = t.merge(l.r[t.s], r)
		t.fix(l)
		return l
	default:
		r.l[t.s] = t.merge(l, r.l[t.s])
		t.fix(r)
		return r
	}
}

// insert adds e (its priority set); an entry comparing equal to it (the same object) is
// replaced.
func (t *tree) insert(e *Entry) {
	l, r := t.split(t.root, e, false)
	_, r = t.split(r, e, true)
	e.l[t.s], e.r[t.s], e.size[t.s] = nil, nil, 1
	t.root = t.merge(t.merge(l, e), r)
}

// delete removes the entry comparing equal to e, if any.
func (t *tree) delete(e *Entry) {
	l, r := t.split(t.root, e, false)
	_, r = t.split(r, e, true)
	t.root = t.merge(l, r)
}

// at returns the entry of rank k (0-based), nil out of range.
func (t *tree) at(k int) *Entry {
	n := t.root
	for n != nil {
		switch ls := t.size(n.l[t.s]); {
		case k < ls:
			n = n.l[t.s]
		case k == ls:
			return n
		default:
			k -= ls + 1
			n = n.r[t.s]
		}
	}
	return nil
}

// rank counts the entries before probe (and equal to it when inclusive).
func (t *tree) rank(probe *Entry, inclusive bool) int {
	k, n := 0, t.root
	for n != nil {
		c := Compare(t.s, n, probe)
		if c < 0 || (inclusive && c == 0) {
			k += t.size(n.l[t.s]) + 1
			n = n.r[t.s]
		} else {
			n = n.l[t.s]
		}
	}
	return k
}

// each calls fn on the entries of ranks [from, to) in order, until fn returns false.
func (t *tree) each(from, to int, fn func(*Entry) bool) {
	var walk func(n *Entry, base int) bool
	walk = func(n *Entry, base int) bool {
		if n == nil || base >= to || base+t.size(n) <= from {
			return true
		}
		ls := t.size(n.l[t.s])
		if !walk(n.l[t.s], base) {
			return false
		}
		if i := base + ls; i >= from && i < to && !fn(n) {
			return false
		}
		return walk(n.r[t.s], base+ls+1)
	}
	walk(t.root, 0)
}
