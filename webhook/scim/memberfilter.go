package scim

import (
	"context"
	"strings"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// memberCond is what a filter condition on a group's members needs to be decided.
type memberCond int

const (
	notMembers  memberCond = iota // not about members: the document decides
	hasMembers                    // true when the team has a member (members pr, members ne null)
	noMembers                     // true when it has none (members eq null)
	hasMember                     // true when one member's id is the condition's value
	lacksMember                   // true when no member's id is (members.value ne "<id>")
	never                         // never true (members.display pr: no display is shown)
	always                        // always true (members.display eq null)
	scanMembers                   // any other: evaluated member by member
)

// classify says how a condition on members is decided, and the member id it is about.
//
// The members a filter sees are those a response shows: value and type "User" (and $ref);
// member ids are object names, lowercase, so a case-insensitive comparison of members.value
// (caseExact is false) is an index lookup of the folded value.
func classify(cond filter.Expr) (memberCond, string) {
	sub, ok := "", false
	switch n := cond.(type) {
	case *filter.Present:
		if sub, ok = membersSub(n.Path); !ok {
			return notMembers, ""
		}
		if sub == "display" {
			return never, ""
		}
		return hasMembers, ""
	case *filter.Comparison:
		if sub, ok = membersSub(n.Path); !ok {
			return notMembers, ""
		}
		if n.Value == nil {
			switch {
			case sub == "display" && n.Op == filter.Eq:
				return always, ""
			case sub == "display":
				return never, ""
			case n.Op == filter.Eq:
				return noMembers, ""
			case n.Op == filter.Ne:
				return hasMembers, ""
			}
			return never, ""
		}
		if id, isString := n.Value.(string); isString && (sub == "" || sub == "value") {
			switch n.Op {
			case filter.Eq:
				return hasMember, naming.Fold(id)
			case filter.Ne:
				return lacksMember, naming.Fold(id)
			}
		}
		return scanMembers, ""
	case *filter.ValuePath:
		if sub, ok = membersSub(n.Path); !ok {
			return notMembers, ""
		}
		if c, isCmp := n.Filter.(*filter.Comparison); isCmp && c.Op == filter.Eq && sub == "" &&
			c.Path.URN == "" && c.Path.SubAttr == "" && strings.EqualFold(c.Path.Attr, "value") {
			if id, isString := c.Value.(string); isString {
				return hasMember, naming.Fold(id)
			}
		}
		return scanMembers, ""
	}
	return notMembers, ""
}

// membersSub reports whether path names the Group's members, and which sub-attribute ("" for
// members itself).
func membersSub(path filter.AttrPath) (string, bool) {
	r, ok := schema.Group.Resolve(path.URN, path.Attr, path.SubAttr)
	if !ok || r.Name != "members" {
		return "", false
	}
	return r.Sub, true
}

// memberFilter decides the member conditions of a /Groups filter for each team without
// building its member list: ids from the slice member index (one lookup per id in the
// filter, for all teams), presence from the member count of the team's slices, and only the
// other conditions (members.value sw "x") member by member, without documents.
type memberFilter struct {
	// rt is the organization's Group type (its custom extensions included): the filter's other
	// conditions are matched against it.
	rt      schema.ResourceType
	filter  filter.Expr
	holders map[string]map[string]bool // member id → names of the teams that list it
	// listing returns a team's member slices (read once per team and request).
	listing func(team *rosterv1.OrgTeam) (membership.Listing, error)
}

// newMemberFilter looks up, in the slice member index, the ids f compares members with.
func newMemberFilter(ctx context.Context, f filter.Expr, lookup func(ctx context.Context, id string) (map[string]bool, error)) (*memberFilter, error) {
	mf := &memberFilter{filter: f, holders: map[string]map[string]bool{}}
	var err error
	filter.Conditions(f, func(cond filter.Expr) {
		kind, id := classify(cond)
		if err != nil || (kind != hasMember && kind != lacksMember) {
			return
		}
		if _, done := mf.holders[id]; !done {
			mf.holders[id], err = lookup(ctx, id)
		}
	})
	return mf, err
}

// match decides the filter for a team whose document (without members) is doc.
func (mf *memberFilter) match(team *rosterv1.OrgTeam, doc map[string]any) (bool, error) {
	var err error
	ok := filter.MatchDecided(mf.rt, mf.filter, doc, func(cond filter.Expr) (bool, bool) {
		kind, id := classify(cond)
		switch kind {
		case notMembers:
			return false, false
		case hasMember:
			return mf.holders[id][team.Name], true
		case lacksMember:
			return !mf.holders[id][team.Name], true
		case never:
			return false, true
		case always:
			return true, true
		}
		l, lerr := mf.listing(team)
		if lerr != nil {
			err = lerr
			return false, true
		}
		switch kind {
		case hasMembers:
			return l.Count() > 0, true
		case noMembers:
			return l.Count() == 0, true
		}
		return mf.scan(cond, l), true
	})
	return ok, err
}

// scan evaluates a member condition on each member alone: true when one member satisfies it
// (for ne: when none is equal), as the condition on the whole list would be. Each member is
// a one-element document; none of them is kept.
func (mf *memberFilter) scan(cond filter.Expr, l membership.Listing) bool {
	negate := false
	if c, isCmp := cond.(*filter.Comparison); isCmp && c.Op == filter.Ne && c.Value != nil {
		eq := *c
		eq.Op, cond, negate = filter.Eq, &eq, true
	}
	found := false
	elem := map[string]any{"type": "User"}
	doc := map[string]any{"members": []any{elem}}
	l.Each(func(id string) bool {
		elem["value"] = id
		found = filter.Match(schema.Group, cond, doc)
		return !found
	})
	return found != negate
}
