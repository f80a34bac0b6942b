package order

// tree is an order-statistic treap: a binary search tree kept balanced (in expectation) by
// random priorities, whose nodes count their subtree. Insert, delete, the k-th entry and the
// rank of a key are O(log n); building it from n informer adds is O(n log n).
type tree struct {
	cmp  func(a, b *Entry) int
	root *node
	seed uint64
}

type node struct {
	e    *Entry
	pri  uint64
	size int
	l, r *node
}

func newTree(cmp func(a, b *Entry) int) *tree {
	return &tree{cmp: cmp, seed: 0x9e3779b97f4a7c15}
}

func size(n *node) int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *node) fix() { n.size = 1 + size(n.l) + size(n.r) }

// next is a xorshift64* generator: priorities need no cryptographic quality, and a local
// generator keeps trees deterministic and lock-free of the global source.
func (t *tree) next() uint64 {
	t.seed ^= t.seed >> 12
	t.seed ^= t.seed << 25
	t.seed ^= t.seed >> 27
	return t.seed * 2685821657736338717
}

// len is the number of entries.
func (t *tree) len() int { return size(t.root) }

// split cuts n into the entries before e (or at e when inclusive) and the rest.
func (t *tree) split(n *node, e *Entry, inclusive bool) (l, r *node) {
	if n == nil {
		return nil, nil
	}
	c := t.cmp(n.e, e)
	if c < 0 || (inclusive && c == 0) {
		n.r, r = t.split(n.r, e, inclusive)
		n.fix()
		return n, r
	}
	l, n.l = t.split(n.l, e, inclusive)
	n.fix()
	return l, n
}

func merge(l, r *node) *node {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.pri > r.pri:
		l.r = merge(l.r, r)
		l.fix()
		return l
	default:
		r.l = merge(l, r.l)
		r.fix()
		return r
	}
}

// insert adds e; an entry comparing equal to it (the same object) is replaced.
func (t *tree) insert(e *Entry) {
	l, r := t.split(t.root, e, false)
	_, r = t.split(r, e, true)
	t.root = merge(merge(l, &node{e: e, pri: t.next(), size: 1}), r)
}

// delete removes the entry comparing equal to e, if any.
func (t *tree) delete(e *Entry) {
	l, r := t.split(t.root, e, false)
	_, r = t.split(r, e, true)
	t.root = merge(l, r)
}

// at returns the entry of rank k (0-based), nil out of range.
func (t *tree) at(k int) *Entry {
	n := t.root
	for n != nil {
		switch ls := size(n.l); {
		case k < ls:
			n = n.l
		case k == ls:
			return n.e
		default:
			k -= ls + 1
			n = n.r
		}
	}
	return nil
}

// rank counts the entries before probe (and equal to it when inclusive).
func (t *tree) rank(probe *Entry, inclusive bool) int {
	k, n := 0, t.root
	for n != nil {
		c := t.cmp(n.e, probe)
		if c < 0 || (inclusive && c == 0) {
			k += size(n.l) + 1
			n = n.r
		} else {
			n = n.l
		}
	}
	return k
}

// each calls fn on the entries of ranks [from, to) in order, until fn returns false.
func (t *tree) each(from, to int, fn func(*Entry) bool) {
	var walk func(n *node, base int) bool
	walk = func(n *node, base int) bool {
		if n == nil || base >= to || base+n.size <= from {
			return true
		}
		ls := size(n.l)
		if !walk(n.l, base) {
			return false
		}
		if i := base + ls; i >= from && i < to && !fn(n.e) {
			return false
		}
		return walk(n.r, base+ls+1)
	}
	walk(t.root, 0)
}
