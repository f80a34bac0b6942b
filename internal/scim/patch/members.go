package patch

import (
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// MemberKind is the kind of a Group membership change.
type MemberKind int

// The membership changes SplitMembers produces.
const (
	// MemberAdd adds the listed members (already present ones stay).
	MemberAdd MemberKind = iota + 1
	// MemberRemove removes exactly the listed members.
	MemberRemove
	// MemberReplace sets the members to exactly the listed ones (possibly none).
	MemberReplace
	// MemberRemoveAll removes every member: only `remove` with path "members" and no value.
	MemberRemoveAll
)

// String names the kind: "add", "remove", "replace" or "removeAll".
func (k MemberKind) String() string {
	switch k {
	case MemberAdd:
		return "add"
	case MemberRemove:
		return "remove"
	case MemberReplace:
		return "replace"
	case MemberRemoveAll:
		return "removeAll"
	}
	return "unknown"
}

// MemberOp is one change to a Group's members: member ids (the "value" of each member).
type MemberOp struct {
	Kind   MemberKind
	Values []string
}

// SplitMembers pulls every operation on a Group's "members" out of ops, because the server
// stores memberships apart from the group document (a group can have 100,000 members). It
// returns the membership changes in request order and the remaining operations, for Apply.
//
//	add     path "members", value [{"value":id,…},…]      MemberAdd ids
//	remove  path members[value eq "id" or value eq …]      MemberRemove ids
//	remove  path "members", value [{"value":id},…]         MemberRemove ids (Entra; never all)
//	remove  path "members", no value                       MemberRemoveAll
//	replace path "members", value [...]                    MemberReplace ids
//	add/replace without path, value {"members":[…],…}      MemberAdd/MemberReplace ids; the
//	                                                       rest of the value stays in the op
//
// Member items may carry display, type and "$ref": null; each needs a non-empty string
// "value", else 400 invalidValue. An add or remove with an empty list changes nothing and
// yields no MemberOp. Any other filter on members is 400 invalidPath; paths to a member's
// sub-attribute (members.display, members[…].value) are 400 mutability, since a member can
// only be added or removed.
func SplitMembers(ops []Operation) (members []MemberOp, rest []Operation, err error) {
	for i, op := range ops {
		var m []MemberOp
		var keep *Operation
		if op.Path != nil {
			m, keep, err = splitPath(op)
		} else {
			m, keep, err = splitObject(op)
		}
		if err != nil {
			return nil, nil, atOperation(i, err)
		}
		members = append(members, m...)
		if keep != nil {
			rest = append(rest, *keep)
		}
	}
	return members, rest, nil
}

func isMembers(urn, attr string) bool {
	return strings.EqualFold(attr, "members") && (urn == "" || strings.EqualFold(urn, schema.GroupSchema))
}

func splitPath(op Operation) ([]MemberOp, *Operation, error) {
	p := op.Path
	if !isMembers(p.URN, p.Attr) {
		return nil, &op, nil
	}
	if p.SubAttr != "" {
		return nil, nil, scimerror.BadRequest(scimerror.Mutability,
			"%s cannot change a member's sub-attribute; add or remove the member", quote(p.String()))
	}
	if p.Filter != nil {
		ids, ok := filterIDs(p.Filter)
		if op.Op != Remove || !ok {
			return nil, nil, invalidPath(p.String(),
				`members can only be targeted by a filter in remove, as members[value eq "id" or value eq …]`)
		}
		return []MemberOp{{Kind: MemberRemove, Values: ids}}, nil, nil
	}
	if op.Op == Remove && op.Value == nil {
		return []MemberOp{{Kind: MemberRemoveAll}}, nil, nil
	}
	ids, err := memberIDs(op.Value)
	if err != nil {
		return nil, nil, err
	}
	switch op.Op {
	case Replace:
		return []MemberOp{{Kind: MemberReplace, Values: ids}}, nil, nil
	case Remove:
		// Entra's remove with a value list removes those members only, never all of them.
		if len(ids) == 0 {
			return nil, nil, nil
		}
		return []MemberOp{{Kind: MemberRemove, Values: ids}}, nil, nil
	default:
		if len(ids) == 0 {
			return nil, nil, nil
		}
		return []MemberOp{{Kind: MemberAdd, Values: ids}}, nil, nil
	}
}

// splitObject takes the members keys out of a path-less add or replace value.
func splitObject(op Operation) ([]MemberOp, *Operation, error) {
	obj, ok := op.Value.(map[string]any)
	if !ok || op.Op == Remove {
		return nil, &op, nil
	}
	var out []MemberOp
	var rest map[string]any
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if p, err := ParsePath(k); err != nil || p.Filter != nil || p.SubAttr != "" || !isMembers(p.URN, p.Attr) {
			continue
		}
		ids, err := memberIDs(obj[k])
		if err != nil {
			return nil, nil, err
		}
		switch {
		case op.Op == Replace:
			out = append(out, MemberOp{Kind: MemberReplace, Values: ids})
		case len(ids) > 0:
			out = append(out, MemberOp{Kind: MemberAdd, Values: ids})
		}
		if rest == nil {
			rest = make(map[string]any, len(obj))
			for k, v := range obj {
				rest[k] = v
			}
		}
		delete(rest, k)
	}
	switch {
	case rest == nil:
		return nil, &op, nil // no members key
	case len(rest) == 0:
		return out, nil, nil
	}
	op.Value = rest
	return out, &op, nil
}

// memberIDs reads the ids of a members value: a list of member objects, or one object. A bare
// string stands for the member with that id ("value": "u-abc" instead of [{"value":"u-abc"}]),
// as some clients send it.
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	ids := make([]string, 0, len(items))
	for i, item := range items {
		id, isString := item.(string)
		if !isString {
			m, _ := item.(map[string]any)
			id, _ = schema.Field(m, "value").(string)
		}
		if id == "" {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "members[%d] needs a non-empty string \"value\"", i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// filterIDs reads the ids of a members filter made of `value eq "id"` joined by "or".
func filterIDs(e filter.Expr) ([]string, bool) {
	switch n := e.(type) {
	case *filter.Comparison:
		id, ok := n.Value.(string)
		if n.Op == filter.Eq && ok && id != "" && n.Path.URN == "" && n.Path.SubAttr == "" && strings.EqualFold(n.Path.Attr, "value") {
			return []string{id}, true
		}
	case *filter.Logical:
		if n.Op == filter.Or {
			left, ok1 := filterIDs(n.Left)
			right, ok2 := filterIDs(n.Right)
			return append(left, right...), ok1 && ok2
		}
	}
	return nil, false
}
