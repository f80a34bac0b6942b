package order

import (
	"errors"
	"slices"
	"sort"
)

// Key is a position in an order: the sort value (none for Created), the creation time and the
// object name of an entry. It stays meaningful when that entry is deleted or changed, so a
// cursor made of it neither repeats nor skips the entries that existed throughout.
type Key struct {
	Value   string
	Created int64
	Name    string
}

// KeyOf returns e's position in order s.
func KeyOf(s Sort, e *Entry) Key {
	k := Key{Name: e.Name}
	if s == Created {
		k.Created = e.Created
	} else {
		k.Value = e.Value(s)
	}
	return k
}

// probe is an entry standing for k in order s.
func (k Key) probe(s Sort) *Entry {
	e := &Entry{Name: k.Name, Created: k.Created}
	switch s {
	case UserName:
		e.UserName = k.Value
	case DisplayName:
		e.DisplayName = k.Value
	case ExternalID:
		e.ExternalID = k.Value
	}
	return e
}

// Query selects a page of a list.
type Query struct {
	// Sort and Descending are the order of the page (Descending reverses Sort entirely).
	Sort       Sort
	Descending bool
	// Candidates, when not nil, are the only entries that can match (found by the caller);
	// otherwise every entry can, or those Lookup finds, or those of the Prefix range.
	Candidates []*Entry
	// Lookup, when not nil, narrows the candidates to the entries with one exact value (an
	// equality filter answered by the list, under its lock, without a scan).
	Lookup *Lookup
	// Prefix, when PrefixSort is set (not Created), narrows the candidates to the entries whose
	// PrefixSort value starts with Prefix (folded as that order's values are).
	PrefixSort Sort
	Prefix     string
	// Match keeps the candidates that match the request's filter; nil keeps every one.
	Match func(*Entry) bool
	// Less, when not nil, orders the matched entries (a sortBy the index does not keep), ties
	// in the Sort order; Descending then reverses Less only. Cursors cannot be used with it.
	Less func(a, b *Entry) int
	// Offset is the number of entries to skip (startIndex - 1), when After is nil.
	Offset int
	// After, when not nil, starts the page after this position (or ends it before, with
	// Before set) instead of at Offset.
	After  *Key
	Before bool
	// Count is the most entries on the page.
	Count int
}

// Lookup is an exact value of an entry: a range of the order Sort, or with Email set the users
// that have the email address Value.
type Lookup struct {
	// Sort is the order whose values are compared (not Created); ignored with Email.
	Sort Sort
	// Email looks Value up among the users' email values instead.
	Email bool
	// Value is the value as the list keeps it: folded (naming.Fold) for UserName, DisplayName
	// and emails, as is for ExternalID (caseExact). "" finds nothing: it is no value.
	Value string
}

// find returns the entries l holds that have k's value, in a slice of the caller's: in
// Sort order (ordered) for a range of an order, in no order for emails.
func (l *List) find(k Lookup) (out []*Entry, ordered bool) {
	out = []*Entry{} // not nil: no candidates, not "every entry"
	switch {
	case k.Value == "":
	case k.Email:
		out = l.withEmail(out, k.Value)
	default:
		t := l.trees[k.Sort]
		// Every entry with the value sorts at or after (value, "") and before the value's
		// successor: no string lies between v and v+"\x00", and object names are not "".
		lo := t.rank((Key{Value: k.Value}).probe(k.Sort), false)
		hi := t.rank((Key{Value: k.Value + "\x00"}).probe(k.Sort), false)
		out = make([]*Entry, 0, hi-lo)
		t.each(lo, hi, func(e *Entry) bool { out = append(out, e); return true })
		ordered = true
	}
	return out, ordered
}

// Page is a selected page.
type Page struct {
	// Total is the number of entries the query selects, on every page.
	Total int
	// Start is the 0-based position of the page's first entry among them.
	Start int
	// Entries are the page, in order.
	Entries []*Entry
}

// More reports whether entries follow the page's first n entries (n ≤ len(Entries)): a page
// rendered short still has a next page.
func (p Page) More(n int) bool { return p.Start+n < p.Total }

// ErrCursorSort is returned for a cursor with a Less order: its positions are not kept.
var ErrCursorSort = errors.New("cursor paging needs an order the index keeps")

// seq is the selected entries in page order, with the positions of keys among them.
type seq interface {
	len() int
	each(from, to int, fn func(*Entry) bool)
	// after is the position of the first entry after k; notBefore of the first entry at or
	// after k.
	after(k Key) int
	notBefore(k Key) int
}

// Select returns the page q selects from l.
func (l *List) Select(q Query) (Page, error) {
	c, err := l.collect(q)
	if err != nil {
		return Page{}, err
	}
	return c.page(q), nil
}

// candidates are what a query needs of a list, copied under the list's lock: either the page
// itself (read straight from a tree, O(log n + page)) or the entries that can match, to be
// matched and sorted once the lock is released.
type candidates struct {
	done    *Page
	entries []*Entry // owned: page filters them in place
	ordered bool     // entries are in q.Sort order
}

// collect copies what q needs of l. It must run under the list's lock; page then needs none.
func (l *List) collect(q Query) (candidates, error) {
	if !l.Has(q.Sort) || (q.PrefixSort != Created && !l.Has(q.PrefixSort)) ||
		(q.Lookup != nil && !q.Lookup.Email && (q.Lookup.Sort == Created || !l.Has(q.Lookup.Sort))) {
		return candidates{}, errors.New("order: the list does not keep that order")
	}
	if q.After != nil && q.Less != nil {
		return candidates{}, ErrCursorSort
	}
	if q.Candidates == nil && q.Lookup == nil && q.PrefixSort == Created && q.Match == nil && q.Less == nil {
		p := pageOf(treeSeq{t: l.trees[q.Sort], sort: q.Sort, desc: q.Descending}, q)
		return candidates{done: &p}, nil
	}
	var c candidates
	collect := func(e *Entry) bool { c.entries = append(c.entries, e); return true }
	switch {
	case q.Candidates != nil:
		c.entries = slices.Clone(q.Candidates)
	case q.Lookup != nil:
		var ordered bool
		c.entries, ordered = l.find(*q.Lookup)
		c.ordered = ordered && q.Lookup.Sort == q.Sort
	case q.PrefixSort != Created:
		t := l.trees[q.PrefixSort]
		// Every value with the prefix sorts at or after the prefix and before prefix+"\xff":
		// 0xff never occurs in UTF-8.
		lo := t.rank((Key{Value: q.Prefix}).probe(q.PrefixSort), false)
		hi := t.rank((Key{Value: q.Prefix + "\xff"}).probe(q.PrefixSort), false)
		if q.Prefix == "" {
			// "" is no value, which sorts last: sw "" keeps the entries that have one.
			lo, hi = 0, t.rank((Key{}).probe(q.PrefixSort), false)
		}
		c.entries = make([]*Entry, 0, hi-lo)
		t.each(lo, hi, collect)
		c.ordered = q.PrefixSort == q.Sort
	default:
		t := l.trees[q.Sort]
		c.entries = make([]*Entry, 0, t.len())
		t.each(0, t.len(), collect)
		c.ordered = true
	}
	return c, nil
}

// page selects q's page from the candidates: no lock needed.
func (c candidates) page(q Query) Page {
	if c.done != nil {
		return *c.done
	}
	return pageOf(c.matched(q), q)
}

// pageOf cuts q's page out of s.
func pageOf(s seq, q Query) Page {
	n := s.len()
	from := min(max(q.Offset, 0), n)
	end := n // a previous page ends before its cursor, not count entries after its start
	if q.After != nil {
		if from = s.after(*q.After); q.Before {
			end = s.notBefore(*q.After)
			from = max(end-max(q.Count, 0), 0)
		}
	}
	to := min(from+max(q.Count, 0), end)
	p := Page{Total: n, Start: from, Entries: make([]*Entry, 0, max(to-from, 0))}
	s.each(from, to, func(e *Entry) bool { p.Entries = append(p.Entries, e); return true })
	return p
}

// matched keeps the candidates that match, in page order: O(candidates).
func (c candidates) matched(q Query) sliceSeq {
	out := c.entries[:0]
	for _, e := range c.entries {
		if q.Match == nil || q.Match(e) {
			out = append(out, e)
		}
	}
	if !c.ordered {
		slices.SortFunc(out, func(a, b *Entry) int { return Compare(q.Sort, a, b) })
	}
	if q.Less != nil {
		slices.SortStableFunc(out, func(a, b *Entry) int {
			if q.Descending {
				return q.Less(b, a)
			}
			return q.Less(a, b)
		})
	} else if q.Descending {
		slices.Reverse(out)
	}
	return sliceSeq{s: out, sort: q.Sort, desc: q.Descending}
}

// sliceSeq is a materialised selection in page order.
type sliceSeq struct {
	s    []*Entry
	sort Sort
	desc bool
}

func (s sliceSeq) len() int { return len(s.s) }

func (s sliceSeq) each(from, to int, fn func(*Entry) bool) {
	for _, e := range s.s[from:to] {
		if !fn(e) {
			return
		}
	}
}

// cmp compares e with k in page order.
func (s sliceSeq) cmp(e *Entry, k Key) int {
	c := Compare(s.sort, e, k.probe(s.sort))
	if s.desc {
		return -c
	}
	return c
}

func (s sliceSeq) after(k Key) int {
	return sort.Search(len(s.s), func(i int) bool { return s.cmp(s.s[i], k) > 0 })
}

func (s sliceSeq) notBefore(k Key) int {
	return sort.Search(len(s.s), func(i int) bool { return s.cmp(s.s[i], k) >= 0 })
}

// treeSeq is a whole order, read from its tree: O(log n) to find a position.
type treeSeq struct {
	t    *tree
	sort Sort
	desc bool
}

func (s treeSeq) len() int { return s.t.len() }

func (s treeSeq) each(from, to int, fn func(*Entry) bool) {
	if !s.desc {
		s.t.each(from, to, fn)
		return
	}
	n := s.t.len()
	for i := from; i < to; i++ {
		if !fn(s.t.at(n - 1 - i)) {
			return
		}
	}
}

func (s treeSeq) after(k Key) int {
	if s.desc {
		return s.t.len() - s.t.rank(k.probe(s.sort), false)
	}
	return s.t.rank(k.probe(s.sort), true)
}

func (s treeSeq) notBefore(k Key) int {
	if s.desc {
		return s.t.len() - s.t.rank(k.probe(s.sort), true)
	}
	return s.t.rank(k.probe(s.sort), false)
}
