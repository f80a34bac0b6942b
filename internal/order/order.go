// Package order keeps every organization's users and teams in the orders a SCIM list pages
// through, so that a page costs O(log n + page) instead of a copy and a sort of the whole org:
// the default order (creation time, then object name: new resources sort last, so startIndex
// paging stays stable under creates), userName, displayName and externalId. It is fed by the
// manager cache's informer events (Track) and holds small entries that point at the cached
// objects, read only: a team's *rosterv1.OrgTeam, a user's compact *slimuser.User (the form the
// cache holds users in), which readers decode.
//
// Each kind carries a watermark (a cachewatch.Progress): informer handlers run on goroutines of
// their own, so the index can lag the cache; a read that must see this replica's own writes
// waits on the index's watermark, not only on the cache's.
package order

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// Sort names an order the index keeps.
type Sort uint8

// The orders. Value orders (all but Created) put entries without the value last, as SCIM
// sortBy does, and break ties by object name.
const (
	// Created is creationTimestamp (seconds), then object name.
	Created Sort = iota
	// UserName is the folded userName (users only).
	UserName
	// DisplayName is the folded displayName.
	DisplayName
	// ExternalID is externalId as is (caseExact).
	ExternalID
	numSorts
)

// Entry is what the index keeps of one object.
type Entry struct {
	// Name is the object name (the SCIM id).
	Name string
	// Created is the creationTimestamp in Unix seconds.
	Created int64
	// UserName and DisplayName are folded (naming.Fold); ExternalID is as stored. "" is
	// "no value".
	UserName, DisplayName, ExternalID string
	// Object is the cached object, shared with the cache: read it, never change it. A user's
	// is a *slimuser.User (decode it: slimuser.User.OrgUser, DecodeInto), a team's a
	// *rosterv1.OrgTeam.
	Object client.Object
	// links place the entry in its list's trees (tree.go): set by the list only.
	links
}

// Value returns the entry's value in a value order ("" for Created).
func (e *Entry) Value(s Sort) string {
	switch s {
	case UserName:
		return e.UserName
	case DisplayName:
		return e.DisplayName
	case ExternalID:
		return e.ExternalID
	}
	return ""
}

// Compare is the total order s: a three-way comparison of a and b.
func Compare(s Sort, a, b *Entry) int {
	if s == Created {
		if c := cmp.Compare(a.Created, b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}
	va, vb := a.Value(s), b.Value(s)
	switch {
	case va == "" && vb != "":
		return 1
	case va != "" && vb == "":
		return -1
	}
	if c := strings.Compare(va, vb); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// UserEntry is the entry of a user. Folded values share the cached user's strings when
// folding changes nothing (naming.Fold returns its input then): no copy per user.
func UserEntry(u *slimuser.User) *Entry {
	return &Entry{
		Name: u.GetName(), Created: u.GetCreationTimestamp().Unix(), Object: u,
		UserName: naming.Fold(u.UserName()), DisplayName: naming.Fold(u.DisplayName()),
		ExternalID: u.ExternalID(),
	}
}

// TeamEntry is the entry of a team.
func TeamEntry(t *rosterv1.OrgTeam) *Entry {
	return &Entry{
		Name: t.Name, Created: t.CreationTimestamp.Unix(), Object: t,
		DisplayName: naming.Fold(t.Spec.DisplayName), ExternalID: t.Spec.ExternalID,
	}
}

// List is one organization's resources of one kind, in every order the kind has.
type List struct {
	byName map[string]*Entry
	trees  [numSorts]*tree // nil: an order this kind does not have
	// emails finds users by a folded email value: a user list's only lookup that is not a
	// range of an order. It replaces the cache's email field index, which kept a Go map per
	// value, twice. A value's first user is in emails, any others in sharedEmails: almost
	// every value has one user, which then costs no slice. Removing a user from a value
	// that N users share scans those N (under the org's lock): fine for the few users that
	// share an address in practice, linear if thousands share one (a placeholder address).
	emails       map[string]*Entry
	sharedEmails map[string][]*Entry
}

// NewList returns an empty list keeping the given orders (Created is always kept).
func NewList(sorts ...Sort) *List {
	l := &List{byName: map[string]*Entry{}, emails: map[string]*Entry{}, sharedEmails: map[string][]*Entry{}}
	for _, s := range append([]Sort{Created}, sorts...) {
		l.trees[s] = newTree(s)
	}
	return l
}

// Put adds a copy of e, replacing the entry of the same name: the list's entries are the
// nodes of its trees, so it keeps its own.
func (l *List) Put(e *Entry) {
	c := *e
	c.links = links{}
	l.put(&c)
}

// put adds e itself, replacing the entry of the same name: e must be in no list.
func (l *List) put(e *Entry) {
	l.Remove(e.Name)
	l.byName[e.Name] = e
	e.pri = priority(e.Name)
	for _, t := range l.trees {
		if t != nil {
			t.insert(e)
		}
	}
	emailsOf(e, func(v string) {
		if _, ok := l.emails[v]; !ok {
			l.emails[v] = e
		} else {
			l.sharedEmails[v] = append(l.sharedEmails[v], e)
		}
	})
}

// withEmail appends the users with the folded email value v to out.
func (l *List) withEmail(out []*Entry, v string) []*Entry {
	if e, ok := l.emails[v]; ok {
		out = append(out, e)
	}
	return append(out, l.sharedEmails[v]...)
}

// emailsOf calls fn once per distinct folded email value of e's user (none for a team). They
// are read from the cached object, which never changes: Remove finds the same values Put
// added, without the entry keeping a copy of them.
func emailsOf(e *Entry, fn func(string)) {
	u, ok := e.Object.(*slimuser.User)
	if !ok {
		return
	}
	var buf [4]string
	seen := buf[:0]
	for m := range u.Emails() {
		v := naming.Fold(m)
		if v == "" || slices.Contains(seen, v) {
			continue
		}
		seen = append(seen, v)
		fn(v)
	}
}

// Remove drops the entry named name, if any.
func (l *List) Remove(name string) {
	old, ok := l.byName[name]
	if !ok {
		return
	}
	delete(l.byName, name)
	for _, t := range l.trees {
		if t != nil {
			t.delete(old)
		}
	}
	emailsOf(old, func(v string) {
		shared := l.sharedEmails[v]
		if l.emails[v] == old {
			if len(shared) == 0 {
				delete(l.emails, v)
				return
			}
			l.emails[v], shared = shared[len(shared)-1], shared[:len(shared)-1]
		} else {
			shared = slices.DeleteFunc(shared, func(e *Entry) bool { return e == old })
		}
		if len(shared) > 0 {
			l.sharedEmails[v] = shared
		} else {
			delete(l.sharedEmails, v)
		}
	})
}

// Len is the number of entries.
func (l *List) Len() int { return len(l.byName) }

// Has reports whether the list keeps order s.
func (l *List) Has(s Sort) bool { return s < numSorts && l.trees[s] != nil }

// kind is one kind's lists, each namespace behind a lock of its own: a slow read of one
// organization never holds up another's lists, nor the informer handler's updates elsewhere.
type kind struct {
	mu    sync.Mutex // guards the map only
	lists map[string]*nsList
	sorts []Sort
}

// nsList is one namespace's list and its lock.
type nsList struct {
	mu sync.RWMutex
	l  *List
	// dead: removed from the kind's map when it went empty; a writer holding it starts over.
	dead bool
}

func newKind(sorts ...Sort) *kind { return &kind{lists: map[string]*nsList{}, sorts: sorts} }

// lookup returns namespace's list, nil when it has none.
func (k *kind) lookup(namespace string) *nsList {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lists[namespace]
}

// put adds or replaces e in namespace's list; the list takes e.
func (k *kind) put(namespace string, e *Entry) {
	for {
		k.mu.Lock()
		n := k.lists[namespace]
		if n == nil {
			n = &nsList{l: NewList(k.sorts...)}
			k.lists[namespace] = n
		}
		k.mu.Unlock()
		n.mu.Lock()
		if !n.dead {
			n.l.put(e)
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
	}
}

// remove drops namespace's entry named name. Lock order: a namespace's lock, then the map's.
func (k *kind) remove(namespace, name string) {
	n := k.lookup(namespace)
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.l.Remove(name)
	if n.l.Len() == 0 && !n.dead {
		k.mu.Lock()
		if k.lists[namespace] == n {
			delete(k.lists, namespace)
		}
		k.mu.Unlock()
		n.dead = true
	}
}

// read runs fn on namespace's list (an empty one when it has none) under that namespace's read
// lock: fn must not keep the list.
func (k *kind) read(namespace string, fn func(*List) error) error {
	n := k.lookup(namespace)
	if n == nil {
		return fn(NewList(k.sorts...))
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return fn(n.l)
}

// selectPage selects q's page of namespace's list. Only the copy of the candidate entries runs
// under the namespace's lock; matching and sorting them (a filter may build SCIM documents)
// run outside it: entries are immutable.
func (k *kind) selectPage(namespace string, q Query) (Page, error) {
	var c candidates
	err := k.read(namespace, func(l *List) (err error) { c, err = l.collect(q); return err })
	if err != nil {
		return Page{}, err
	}
	return c.page(q), nil
}
