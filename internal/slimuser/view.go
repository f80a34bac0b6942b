package slimuser

import "strings"

// StringPath is where a string of the spec lives in the encoding: a top-level string
// attribute (title), a sub-attribute of name or of the enterprise extension (name.givenName),
// or a string sub-attribute of each value of a multi-valued attribute (emails.value). A full
// scan resolves it once (StringPathOf) and reads each user's strings in place (Strings), with
// no decode and no allocation.
type StringPath struct {
	top   byte  // the top-level tag
	sub   byte  // the nested field's tag; 0 for a top-level string
	multi bool  // top is a list of MultiValued
	lvl   level // the level of sub's struct
}

// Multi reports whether p names a sub-attribute of each value of a multi-valued attribute.
func (p StringPath) Multi() bool { return p.multi }

// StringPathOf resolves attr and sub (JSON names as OrgUserSpec names them, any case; attr
// "enterprise" for the enterprise extension; sub "" for a top-level attribute) to a path of
// string values, and false when they name no string: another type (active, primary), a struct
// (name, enterprise.manager), addresses, extensions or an unknown name.
func StringPathOf(attr, sub string) (StringPath, bool) {
	t, ok := specTags[strings.ToLower(attr)]
	if !ok {
		return StringPath{}, false
	}
	p := StringPath{top: t}
	if lvUser.kind(t) == kString {
		return p, sub == ""
	}
	var names []string
	switch t {
	case tagUserNameParts:
		p.lvl, names = lvName, []string{"", "formatted", "familyname", "givenname", "middlename", "honorificprefix", "honorificsuffix"}
	case tagEnterprise:
		p.lvl, names = lvEnterprise, []string{"", "employeenumber", "costcenter", "organization", "division", "department"}
	case tagEmails, tagPhoneNumbers, tagIms, tagPhotos, tagEntitlements, tagRoles, tagX509Certificates:
		p.lvl, p.multi, names = lvMulti, true, []string{"", "value", "display", "type"}
	default:
		return StringPath{}, false
	}
	for i, n := range names {
		if i > 0 && strings.EqualFold(n, sub) {
			p.sub = byte(i)
			return p, true
		}
	}
	return StringPath{}, false
}

// Strings returns the strings u has at p, in order (one per value of a multi-valued
// attribute that has it): call Next until it reports false. Absent strings are not returned,
// nor are empty ones (the encoding writes no empty field): as a SCIM document leaves them out.
// The strings are views of u's immutable encoding. A Strings is a value: iterating needs no
// closure and allocates nothing.
func (u *User) Strings(p StringPath) Strings {
	it := Strings{u: u, p: p}
	d, ok := u.field(p.top)
	if !ok {
		return it
	}
	it.d, it.left = d, 1
	if p.multi {
		it.left = it.d.count()
	}
	return it
}

// Strings iterates the strings of a user at a path (User.Strings).
type Strings struct {
	d    dec
	u    *User
	p    StringPath
	left int // values not yet read
}

// Next returns the next string, and false when there is none left.
func (it *Strings) Next() (string, bool) {
	for it.left > 0 {
		it.left--
		if it.p.sub == 0 {
			return it.d.str(), true
		}
		if s, ok := it.d.structString(it.p.lvl, it.p.sub, it.u); ok {
			return s, true
		}
	}
	return "", false
}

// Items returns the values of the multi-valued attribute of p (whose sub-attribute it
// ignores), in order: call Next until it reports false.
func (u *User) Items(p StringPath) Items {
	it := Items{u: u}
	if !p.multi {
		return it
	}
	if d, ok := u.field(p.top); ok {
		it.d = d
		it.left = it.d.count()
	}
	return it
}

// Items iterates the values of a multi-valued attribute (User.Items).
type Items struct {
	d    dec
	u    *User
	left int
}

// Next returns the next value, and false when there is none left.
func (it *Items) Next() (Item, bool) {
	if it.left <= 0 {
		return Item{}, false
	}
	it.left--
	item := Item{d: it.d, u: it.u}
	it.d.skipStruct(lvMulti)
	if it.d.err != nil {
		panic("slimuser: cached user " + it.u.namespace + "/" + it.u.name + ": " + it.d.err.Error())
	}
	return item, true
}

// Item is one value of a multi-valued attribute (Items), read in place.
type Item struct {
	d dec // at the item's first field
	u *User
}

// String returns the string sub-attribute of the item that p names (p from StringPathOf, of
// the item's attribute), and false when the item has none.
func (it Item) String(p StringPath) (string, bool) {
	d := it.d
	return d.structString(lvMulti, p.sub, it.u)
}

// structString reads the struct of level lvl at d up to its end, returning the string of
// field t. Tag 5 of a MultiValued is the user's userName (codec.go).
func (d *dec) structString(lvl level, t byte, u *User) (string, bool) {
	out, found := "", false
	for d.err == nil {
		ft := d.tag()
		if ft == tagEnd {
			break
		}
		switch {
		case ft == t && !found:
			out, found = d.str(), true
		case lvl == lvMulti && ft == 5 && t == 1 && !found:
			out, found = u.UserName(), true
		default:
			d.skip(lvl, ft)
		}
	}
	if d.err != nil {
		// The buffer is this package's own encoding: a failure is a bug, not bad input.
		panic("slimuser: cached user " + u.namespace + "/" + u.name + ": " + d.err.Error())
	}
	return out, found
}
