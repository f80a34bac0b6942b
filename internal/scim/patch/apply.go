package patch

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Apply applies ops in order to a deep copy of the canonical document doc (which must carry
// the resource's id, as the server stores it) and returns the result. It is all-or-nothing: on
// an error it returns only the error, and doc is never modified.
//
// Semantics follow RFC 7644 §3.5.2, with the leniency identity providers need:
//
//   - A path-less add or replace applies each key of its object value as a path: plain names,
//     dotted names ("name.givenName"), URN-qualified names ("urn:…:User:employeeNumber") and
//     whole extension objects ("urn:…:enterprise:2.0:User": {…}).
//   - add on a single-valued attribute sets it; on a multi-valued attribute it appends the new
//     values, merging a value into an equal existing one (same "value" and "type"; same "value"
//     alone when "value" is immutable, as for members). replace on a multi-valued attribute
//     replaces the whole list. add and replace on a complex attribute with an object merge its
//     sub-attributes; with a bare value (Entra's manager id) they set {"value": …}.
//   - Through a value path, add and replace change the matching values; when none matches and
//     the filter is a conjunction of "sub eq literal", a new value is built from those
//     comparisons (Entra's add to emails[type eq "work"].value on a user without a work
//     email). Otherwise no match is a 400 noTarget.
//   - remove deletes the target; remove of a multi-valued attribute with a value list removes
//     only the listed values (Entra's member removal), and through a value path removes the
//     matching values. Removing something absent is not an error.
//   - Values are checked and coerced by schema.NormalizeValue ("False" becomes false).
//   - add or replace of a readOnly attribute with its current value is ignored (Okta's group
//     rename carries the group's id); with another value, or any remove of one, is a 400
//     mutability, as is changing an immutable value that is set (members.value).
//   - Setting primary:true on a value clears it on the attribute's other values.
//   - Paths naming attributes the schema does not define are ignored, as Normalize ignores
//     unknown attributes.
//
// The result goes through schema.Normalize (password is dropped, required attributes are
// checked) for what the operations touch: a stored value of an attribute no operation names
// is carried over as stored even when the current declaration refuses it (the Organization
// changed its type or canonical values since), and a required attribute that was already
// missing and is not named is not required; the readOnly attributes of doc (id, meta, groups) are carried over unchanged.
// Errors are 400 *scimerror.Error values whose detail names the failing operation.
func Apply(rt schema.ResourceType, doc map[string]any, ops []Operation) (map[string]any, error) {
	a := &applier{rt: rt, doc: schema.Clone(doc)}
	if a.doc == nil {
		a.doc = map[string]any{}
	}
	for i, op := range ops {
		if err := a.apply(op); err != nil {
			return nil, atOperation(i, err)
		}
	}
	// Only what the operations touch is checked against the current declaration: a value
	// stored before the Organization redeclared its attribute (a string, now an integer; a
	// value no longer canonical) or a required attribute declared since must not block an
	// unrelated PATCH, above all Entra's deactivation. Such values are carried over as stored.
	stale := a.untouchedStale()
	out, err := schema.NormalizeExempt(rt, a.doc, func(r schema.Resolved) bool { return !a.touches(r) && r.Value(doc) == nil })
	if err != nil {
		return nil, err
	}
	for _, s := range stale {
		s.r.Container(out, true)[s.r.Name] = s.v
	}
	if len(stale) > 0 {
		schema.SetSchemas(rt, out)
	}
	for _, r := range rt.Attributes() {
		if r.Attr.Mutability != schema.ReadOnly {
			continue
		}
		if v := r.Value(doc); v != nil {
			r.Container(out, true)[r.Name] = schema.DeepCopy(v)
		}
	}
	return out, nil
}

type applier struct {
	rt      schema.ResourceType
	doc     map[string]any  // the working copy
	touched map[string]bool // lower-cased "schema:name" of the attributes ops target ("schema:*": all of it)
}

// touch records that an operation targets the top-level attribute name of schema urn ("*":
// the whole schema).
func (a *applier) touch(urn, name string) {
	if a.touched == nil {
		a.touched = map[string]bool{}
	}
	a.touched[strings.ToLower(urn+":"+name)] = true
}

// touches reports whether an operation targeted r's top-level attribute.
func (a *applier) touches(r schema.Resolved) bool {
	return a.touched[strings.ToLower(r.Schema+":"+r.Name)] || a.touched[strings.ToLower(r.Schema+":*")]
}

// staleValue is a stored value the current declaration refuses.
type staleValue struct {
	r schema.Resolved
	v any
}

// untouchedStale removes from the working copy the values that no operation targeted and that
// the current declaration of their attribute refuses, and returns them to be put back after
// Normalize.
func (a *applier) untouchedStale() []staleValue {
	var out []staleValue
	for _, r := range a.rt.Attributes() {
		if a.touches(r) || r.Attr.Mutability == schema.ReadOnly || r.Attr.Discarded {
			continue
		}
		v := r.Value(a.doc)
		if v == nil {
			continue
		}
		if _, err := schema.NormalizeValue(r.Attr, r.Path(), v); err != nil {
			out = append(out, staleValue{r, v})
			schema.DeleteField(r.Container(a.doc, false), r.Name)
		}
	}
	return out
}

func (a *applier) apply(op Operation) error {
	switch op.Op {
	case Add, Replace, Remove:
	default:
		return scimerror.BadRequest(scimerror.InvalidSyntax, "unknown op %q", op.Op)
	}
	if op.Path != nil {
		return a.applyPath(op.Op, *op.Path, op.Value)
	}
	if op.Op == Remove {
		return scimerror.BadRequest(scimerror.NoTarget, "remove needs a path")
	}
	m, ok := op.Value.(map[string]any)
	if !ok {
		return scimerror.BadRequest(scimerror.InvalidValue, "%s without a path needs an object value", op.Op)
	}
	return a.applyObject(op.Op, "", m)
}

// applyObject applies each key of a path-less value (urn "") or of an extension object (urn
// set) as its own path, in sorted key order so that the outcome never depends on map order.
func (a *applier) applyObject(op Op, urn string, m map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if urn == "" {
			if strings.EqualFold(k, "schemas") {
				continue
			}
			if s, ok := a.rt.SchemaURN(k); ok {
				if err := a.applySchemaObject(op, s, v); err != nil {
					return err
				}
				continue
			}
		}
		path := k
		if urn != "" {
			path = urn + ":" + k
		}
		p, err := ParsePath(path)
		if err != nil {
			continue // not an attribute name: an unknown attribute, ignored
		}
		if err := a.applyPath(op, p, v); err != nil {
			return err
		}
	}
	return nil
}

// applySchemaObject handles a target that is a whole schema: an extension object, or the core
// schema URN wrapping core attributes.
func (a *applier) applySchemaObject(op Op, urn string, v any) error {
	if urn != a.rt.Schema && (op == Remove || v == nil) {
		a.touch(urn, "*")
	}
	if op == Remove {
		if urn == a.rt.Schema {
			return scimerror.BadRequest(scimerror.NoTarget, "cannot remove the core schema")
		}
		schema.DeleteField(a.doc, urn)
		return nil
	}
	if v == nil {
		if op == Replace && urn != a.rt.Schema {
			schema.DeleteField(a.doc, urn)
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return scimerror.BadRequest(scimerror.InvalidValue, "%q must be an object", urn)
	}
	if urn == a.rt.Schema {
		return a.applyObject(op, "", m)
	}
	return a.applyObject(op, urn, m)
}

func (a *applier) applyPath(op Op, p Path, v any) error {
	if p.Filter == nil && p.SubAttr == "" && p.URN != "" {
		if urn, ok := a.rt.SchemaURN(p.URN + ":" + p.Attr); ok {
			return a.applySchemaObject(op, urn, v)
		}
	}
	r, ok := a.rt.Resolve(p.URN, p.Attr, p.SubAttr)
	if !ok {
		return nil // unknown attribute: ignored, as Normalize drops unknown attributes
	}
	a.touch(r.Schema, r.Name)
	if p.Filter != nil && (!r.Attr.MultiValued || r.Attr.Type != schema.TypeComplex) {
		return invalidPath(p.String(), "%q is not a multi-valued complex attribute", r.Name)
	}
	if skip, err := a.checkReadOnly(op, p, r, v); skip || err != nil {
		return err
	}
	if op == Remove && r.Leaf().Mutability == schema.Immutable {
		return mutability(r, "immutable")
	}
	switch {
	case p.Filter != nil:
		return a.applyFiltered(op, r, p.Filter, v)
	case r.Sub != "":
		return a.applySub(op, r, v)
	default:
		return a.applyAttr(op, r, v)
	}
}

// checkReadOnly rejects changes to readOnly attributes, but lets an add or replace that
// restates the current value pass as a no-op (skip): Okta's group rename sends the group's id.
func (a *applier) checkReadOnly(op Op, p Path, r schema.Resolved, v any) (skip bool, err error) {
	if r.Attr.Mutability != schema.ReadOnly && r.Leaf().Mutability != schema.ReadOnly {
		return false, nil
	}
	if op != Remove && p.Filter == nil && r.Sub == "" && v != nil && reflect.DeepEqual(r.Value(a.doc), v) {
		return true, nil
	}
	return false, mutability(r, "readOnly")
}

func mutability(r schema.Resolved, what string) error {
	return scimerror.BadRequest(scimerror.Mutability, "attribute %q is %s", r.Path(), what)
}

// applyAttr handles a path naming a whole attribute.
func (a *applier) applyAttr(op Op, r schema.Resolved, v any) error {
	c := r.Container(a.doc, op != Remove)
	if c == nil {
		return nil
	}
	if op == Remove {
		if r.Attr.MultiValued && v != nil {
			return a.removeValues(c, r, v)
		}
		schema.DeleteField(c, r.Name)
		return nil
	}
	nv, err := schema.NormalizeValue(r.Attr, r.Path(), v)
	if err != nil {
		return err
	}
	if nv == nil {
		if op == Replace {
			schema.DeleteField(c, r.Name)
		}
		return nil
	}
	cur := schema.Field(c, r.Name)
	switch {
	case r.Attr.MultiValued && op == Add:
		list, touched := addValues(r.Attr, asList(cur), nv.([]any))
		keepPrimary(list, touched)
		schema.SetField(c, r.Name, list)
	case r.Attr.MultiValued:
		schema.SetField(c, r.Name, nv)
	case r.Attr.Type == schema.TypeComplex:
		curMap, isMap := cur.(map[string]any)
		if _, objectGiven := v.(map[string]any); !objectGiven || !isMap {
			// A bare value replaces the whole attribute: a new manager id must not keep the
			// old manager's other sub-attributes.
			curMap = map[string]any{}
			if err := checkImmutableSubs(r, cur, nv); err != nil {
				return err
			}
			schema.SetField(c, r.Name, curMap)
		}
		for k, x := range nv.(map[string]any) {
			if err := setSub(r, curMap, r.Attr.Sub(k), x); err != nil {
				return err
			}
		}
	default:
		if r.Attr.Mutability == schema.Immutable && cur != nil && !reflect.DeepEqual(cur, nv) {
			return mutability(r, "immutable")
		}
		schema.SetField(c, r.Name, nv)
	}
	return nil
}

// applySub handles name.familyName, manager.value or emails.value (no filter: every value).
func (a *applier) applySub(op Op, r schema.Resolved, v any) error {
	c := r.Container(a.doc, op != Remove)
	if c == nil {
		return nil
	}
	cur := schema.Field(c, r.Name)
	var nv any
	if op != Remove {
		var err error
		if nv, err = schema.NormalizeValue(r.SubAttr, r.Path(), v); err != nil {
			return err
		}
		if nv == nil && op == Add {
			return nil
		}
	}
	if !r.Attr.MultiValued {
		m, _ := cur.(map[string]any)
		if m == nil {
			if nv == nil {
				return nil
			}
			m = map[string]any{}
			schema.SetField(c, r.Name, m)
		}
		if err := setSub(r, m, r.SubAttr, nv); err != nil {
			return err
		}
		if len(m) == 0 {
			schema.DeleteField(c, r.Name)
		}
		return nil
	}
	list := asList(cur)
	if len(list) == 0 {
		if nv != nil {
			schema.SetField(c, r.Name, []any{map[string]any{r.Sub: nv}})
		}
		return nil
	}
	var touched []int
	for i, item := range list {
		if m, ok := item.(map[string]any); ok {
			if err := setSub(r, m, r.SubAttr, nv); err != nil {
				return err
			}
			touched = append(touched, i)
		}
	}
	keepPrimary(list, touched)
	a.setList(c, r, list)
	return nil
}

// applyFiltered handles value paths: emails[type eq "work"], emails[type eq "work"].value.
func (a *applier) applyFiltered(op Op, r schema.Resolved, f filter.Expr, v any) error {
	c := r.Container(a.doc, op != Remove)
	if c == nil {
		return nil
	}
	list := asList(schema.Field(c, r.Name))
	path := filter.AttrPath{URN: r.Schema, Attr: r.Name}
	f = filter.CoerceValueFilter(a.rt, path, f)
	var matched []int
	for i, item := range list {
		if m, ok := item.(map[string]any); ok && filter.MatchValue(a.rt, path, f, m) {
			matched = append(matched, i)
		}
	}
	if op == Remove {
		if r.Sub == "" {
			list = slices.DeleteFunc(list, func(x any) bool {
				m, ok := x.(map[string]any)
				return ok && filter.MatchValue(a.rt, path, f, m)
			})
		} else {
			for _, i := range matched {
				schema.DeleteField(list[i].(map[string]any), r.Sub)
			}
		}
		a.setList(c, r, list)
		return nil
	}

	item := *r.Attr
	item.MultiValued = false
	var nv any
	var err error
	if r.Sub != "" {
		nv, err = schema.NormalizeValue(r.SubAttr, r.Path(), v)
	} else {
		nv, err = schema.NormalizeValue(&item, r.Path(), v)
	}
	if err != nil {
		return err
	}
	if nv == nil {
		// Replacing with null unsets: whole values go, a sub-attribute is cleared below.
		switch {
		case op == Add || len(matched) == 0:
			return nil
		case r.Sub == "":
			return a.applyFiltered(Remove, r, f, nil)
		}
	}

	if len(matched) == 0 {
		tmpl, ok := template(f)
		if !ok {
			return scimerror.BadRequest(scimerror.NoTarget, "no value of %q matches %s", r.Path(), f)
		}
		base, err := schema.NormalizeValue(&item, r.Path(), tmpl)
		if err != nil {
			return err
		}
		elem, _ := base.(map[string]any)
		if elem == nil {
			elem = map[string]any{}
		}
		if r.Sub != "" {
			elem[r.Sub] = nv
		} else {
			for k, x := range nv.(map[string]any) {
				elem[k] = x
			}
		}
		list = append(list, elem)
		keepPrimary(list, []int{len(list) - 1})
		schema.SetField(c, r.Name, list)
		return nil
	}

	for _, i := range matched {
		elem := list[i].(map[string]any)
		switch {
		case r.Sub != "":
			err = setSub(r, elem, r.SubAttr, nv)
		case op == Add:
			for k, x := range nv.(map[string]any) {
				if err = setSub(r, elem, r.Attr.Sub(k), x); err != nil {
					break
				}
			}
		default:
			if err = checkImmutableSubs(r, elem, nv); err == nil {
				list[i] = schema.DeepCopy(nv)
			}
		}
		if err != nil {
			return err
		}
	}
	keepPrimary(list, matched)
	a.setList(c, r, list)
	return nil
}

// setSub sets (or with nil, deletes) sub-attribute sa of the complex value m. An immutable
// sub-attribute that is set may only be restated.
func setSub(r schema.Resolved, m map[string]any, sa *schema.Attribute, v any) error {
	if sa == nil {
		return nil
	}
	cur := schema.Field(m, sa.Name)
	if sa.Mutability == schema.Immutable && cur != nil && !reflect.DeepEqual(cur, v) {
		return scimerror.BadRequest(scimerror.Mutability, "attribute %q is immutable", r.Name+"."+sa.Name)
	}
	if v == nil {
		schema.DeleteField(m, sa.Name)
		return nil
	}
	schema.SetField(m, sa.Name, schema.DeepCopy(v))
	return nil
}

// checkImmutableSubs rejects replacing the complex value old with new when that changes an
// immutable sub-attribute that old has.
func checkImmutableSubs(r schema.Resolved, old, new any) error {
	o, _ := old.(map[string]any)
	n, _ := new.(map[string]any)
	for i := range r.Attr.SubAttributes {
		sa := &r.Attr.SubAttributes[i]
		if sa.Mutability != schema.Immutable {
			continue
		}
		if cur := schema.Field(o, sa.Name); cur != nil && !reflect.DeepEqual(cur, schema.Field(n, sa.Name)) {
			return scimerror.BadRequest(scimerror.Mutability, "attribute %q is immutable", r.Name+"."+sa.Name)
		}
	}
	return nil
}

// setList stores a multi-valued attribute after a removal, dropping values left empty and the
// attribute itself when no value is left.
func (a *applier) setList(c map[string]any, r schema.Resolved, list []any) {
	list = slices.DeleteFunc(list, func(x any) bool {
		m, ok := x.(map[string]any)
		return x == nil || (ok && len(m) == 0)
	})
	if len(list) == 0 {
		schema.DeleteField(c, r.Name)
		return
	}
	schema.SetField(c, r.Name, list)
}

// removeValues removes from a multi-valued attribute the values listed in v: an existing value
// goes when it has every sub-attribute a listed value gives (so {"value":"u1"} removes the
// member u1 whatever its display). It never removes more than that.
func (a *applier) removeValues(c map[string]any, r schema.Resolved, v any) error {
	nv, err := schema.NormalizeValue(r.Attr, r.Path(), v)
	if err != nil || nv == nil {
		return err
	}
	remove := nv.([]any)
	list := slices.DeleteFunc(asList(schema.Field(c, r.Name)), func(x any) bool {
		return slices.ContainsFunc(remove, func(y any) bool { return covers(r.Attr, y, x) })
	})
	a.setList(c, r, list)
	return nil
}

func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	default:
		return []any{t}
	}
}
