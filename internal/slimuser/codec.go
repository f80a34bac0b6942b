package slimuser

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The encoding: an object is a list of fields, each a tag byte and a value, ended by tag 0;
// only populated fields are written. Nested structs (a name, an email, a condition) are lists
// of the same shape. Values:
//
//   - a string is a uvarint h whose low two bits say how it is kept: 0, h/4 bytes inline; 1,
//     entry h/4 of the dictionary (dict: values many users share, as cachetrim interns them);
//     2, a UUID in its 16 bytes (the object's UID); 3, an RFC 3339 time (an annotation's
//     last-modified time) as Unix seconds (varint) and nanoseconds (uvarint). The last two
//     only for strings that the decoder formats back to the same bytes;
//   - an email whose value is the user's userName (Okta's usual) is tag 5 and no value;
//   - an integer is a zigzag varint; a *bool one byte (0 or 1); a time 0 for the zero time or
//     1, then its Unix seconds (varint) and nanoseconds (uvarint);
//   - a list is a uvarint count and its items; a map a count and key-value pairs.
//
// Presence is explicit: an absent tag is nil (a nil pointer, slice or map), a present one with
// a count of 0 an empty, non-nil slice or map, so a decode gives back exactly what was encoded.

// Tags of OrgUser's fields. Metadata tags are below tagSpec, status tags from tagStatus.
const (
	tagEnd byte = iota
	tagAPIVersion
	tagKind
	tagName
	tagGenerateName
	tagNamespace
	tagSelfLink
	tagUID
	tagResourceVersion
	tagGeneration
	tagCreated
	tagDeleted
	tagGracePeriod
	tagAnnotations
	tagOwners
	tagFinalizers
	tagLabelsEmpty // labels are kept beside the buffer (User.labels); this marks {} apart from nil
)

const (
	tagSpec byte = 20 + iota // tagUserName
	tagExternalID
	tagActive
	tagUserNameParts // spec.name
	tagDisplayName
	tagNickName
	tagProfileURL
	tagTitle
	tagUserType
	tagPreferredLanguage
	tagLocale
	tagTimezone
	tagEmails
	tagPhoneNumbers
	tagIms
	tagPhotos
	tagAddresses
	tagEntitlements
	tagRoles
	tagX509Certificates
	tagEnterprise
	tagExtensions
	tagSpecEnd
)

const (
	tagStatus byte = 50 + iota // tagObservedGeneration
	tagConditions
)

const tagUserName = tagSpec

// errCorrupt is a buffer that is not an encoding: only a fuzzer makes one.
var errCorrupt = errors.New("slimuser: corrupt encoding")

// dict holds the strings encoded by reference. It only grows, so an index in a buffer stays
// valid for the life of the process; it is bounded (dictMax entries of at most dictMaxLen
// bytes), and once full further values are encoded inline. Entries are read without the lock:
// a buffer reaches a reader through the informer's store, after the entries it names were
// written.
var dict struct {
	mu     sync.Mutex
	ids    map[string]uint32
	n      uint32
	chunks [dictMax / dictChunk]atomic.Pointer[[dictChunk]string]
}

const (
	dictChunk  = 1024
	dictMax    = 64 * dictChunk
	dictMaxLen = 256
)

// symbol returns the dictionary's index of s, adding it when there is room.
func symbol(s string) (uint32, bool) {
	if s == "" || len(s) > dictMaxLen {
		return 0, false
	}
	dict.mu.Lock()
	defer dict.mu.Unlock()
	if id, ok := dict.ids[s]; ok {
		return id, true
	}
	if dict.n >= dictMax {
		return 0, false
	}
	if dict.ids == nil {
		dict.ids = map[string]uint32{}
	}
	id := dict.n
	c := dict.chunks[id/dictChunk].Load()
	if c == nil {
		c = new([dictChunk]string)
	}
	c[id%dictChunk] = s // s is already the caller's own copy (cachetrim's interned one, or a clone)
	dict.chunks[id/dictChunk].Store(c)
	dict.ids[s] = id
	dict.n++
	return id, true
}

// lookup returns dictionary entry id.
func lookup(id uint64) (string, bool) {
	if id >= dictMax {
		return "", false
	}
	c := dict.chunks[id/dictChunk].Load()
	if c == nil {
		return "", false
	}
	s := c[id%dictChunk]
	return s, s != ""
}

// enc appends an encoding to b.
type enc struct{ b []byte }

func (e *enc) tag(t byte)       { e.b = append(e.b, t) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) count(n int)      { e.uvarint(uint64(n)) }
func (e *enc) boolean(v bool)   { e.b = append(e.b, b2u(v)) }
func (e *enc) inline(s string)  { e.uvarint(uint64(len(s)) << 2); e.b = append(e.b, s...) }
func (e *enc) bytes(v []byte)   { e.uvarint(uint64(len(v)) << 2); e.b = append(e.b, v...) }
func (e *enc) sym(s string)     { e.str(s, true) }
func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}
func (e *enc) end() { e.tag(tagEnd) }

// str writes s inline, or as a dictionary entry if shared and the dictionary takes it.
func (e *enc) str(s string, shared bool) {
	if shared {
		if id, ok := symbol(s); ok {
			e.uvarint(uint64(id)<<2 | strDict)
			return
		}
	}
	e.inline(s)
}

// Kinds of strings (the low two bits of a string's header).
const (
	strInline = iota
	strDict
	strUUID
	strTime
)

// packed writes s as a UUID or a time when it is one that decodes to the same bytes, else
// inline.
func (e *enc) packed(s string) {
	if u, ok := parseUUID(s); ok {
		e.uvarint(strUUID)
		e.b = append(e.b, u[:]...)
		return
	}
	if len(s) >= len("2006-01-02T15:04:05Z") && len(s) <= len(time.RFC3339Nano) && s[4] == '-' {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.UTC().Format(time.RFC3339Nano) == s {
			e.uvarint(strTime)
			e.varint(t.Unix())
			e.uvarint(uint64(t.Nanosecond()))
			return
		}
	}
	e.inline(s)
}

// parseUUID reads a UUID in its canonical form (lower-case hex, hyphens at 8, 13, 18, 23).
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		i, j = i+2, j+1
	}
	return u, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u []byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

// field writes a string field if it is set, inline; symField by reference.
func (e *enc) field(t byte, s string) {
	if s != "" {
		e.tag(t)
		e.inline(s)
	}
}

func (e *enc) symField(t byte, s string) {
	if s != "" {
		e.tag(t)
		e.sym(s)
	}
}

func (e *enc) boolPtr(t byte, v *bool) {
	if v != nil {
		e.tag(t)
		e.boolean(*v)
	}
}

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// encode appends u's encoding, labels aside, to e. It returns the offsets of the name and
// resourceVersion bytes, which the User keeps as views of its buffer.
func (e *enc) user(u *rosterv1.OrgUser) (name, rv int) {
	m := &u.ObjectMeta
	e.symField(tagAPIVersion, u.APIVersion)
	e.symField(tagKind, u.Kind)
	if m.Name != "" {
		e.tag(tagName)
		e.inline(m.Name)
		name = len(e.b) - len(m.Name)
	}
	e.symField(tagGenerateName, m.GenerateName)
	e.symField(tagNamespace, m.Namespace)
	e.field(tagSelfLink, m.SelfLink)
	if m.UID != "" {
		e.tag(tagUID)
		e.packed(string(m.UID))
	}
	if m.ResourceVersion != "" {
		e.tag(tagResourceVersion)
		e.inline(m.ResourceVersion)
		rv = len(e.b) - len(m.ResourceVersion)
	}
	if m.Generation != 0 {
		e.tag(tagGeneration)
		e.varint(m.Generation)
	}
	if !m.CreationTimestamp.IsZero() {
		e.tag(tagCreated)
		e.time(m.CreationTimestamp.Time)
	}
	if m.DeletionTimestamp != nil {
		e.tag(tagDeleted)
		e.time(m.DeletionTimestamp.Time)
	}
	if m.DeletionGracePeriodSeconds != nil {
		e.tag(tagGracePeriod)
		e.varint(*m.DeletionGracePeriodSeconds)
	}
	if m.Annotations != nil {
		e.tag(tagAnnotations)
		e.count(len(m.Annotations))
		for k, v := range m.Annotations {
			e.sym(k)
			e.packed(v) // each object's own (last-modified times)
		}
	}
	if m.OwnerReferences != nil {
		e.tag(tagOwners)
		e.count(len(m.OwnerReferences))
		for _, r := range m.OwnerReferences {
			e.symField(1, r.APIVersion)
			e.symField(2, r.Kind)
			e.symField(3, r.Name)
			e.symField(4, string(r.UID))
			e.boolPtr(5, r.Controller)
			e.boolPtr(6, r.BlockOwnerDeletion)
			e.end()
		}
	}
	if m.Finalizers != nil {
		e.tag(tagFinalizers)
		e.count(len(m.Finalizers))
		for _, f := range m.Finalizers {
			e.sym(f)
		}
	}
	if m.Labels != nil && len(m.Labels) == 0 {
		e.tag(tagLabelsEmpty)
	}
	e.spec(&u.Spec)
	if u.Status.ObservedGeneration != 0 {
		e.tag(tagStatus)
		e.varint(u.Status.ObservedGeneration)
	}
	if u.Status.Conditions != nil {
		e.tag(tagConditions)
		e.count(len(u.Status.Conditions))
		for _, c := range u.Status.Conditions {
			e.symField(1, c.Type)
			e.symField(2, string(c.Status))
			if c.ObservedGeneration != 0 {
				e.tag(3)
				e.varint(c.ObservedGeneration)
			}
			if !c.LastTransitionTime.IsZero() {
				e.tag(4)
				e.time(c.LastTransitionTime.Time)
			}
			e.symField(5, c.Reason)
			e.symField(6, c.Message)
			e.end()
		}
	}
	e.end()
	return name, rv
}

func (e *enc) spec(s *rosterv1.OrgUserSpec) {
	e.field(tagUserName, s.UserName)
	e.field(tagExternalID, s.ExternalID)
	e.boolPtr(tagActive, s.Active)
	if n := s.Name; n != nil {
		e.tag(tagUserNameParts)
		e.field(1, n.Formatted)
		e.field(2, n.FamilyName)
		e.field(3, n.GivenName)
		e.field(4, n.MiddleName)
		e.symField(5, n.HonorificPrefix)
		e.symField(6, n.HonorificSuffix)
		e.end()
	}
	e.field(tagDisplayName, s.DisplayName)
	e.field(tagNickName, s.NickName)
	e.field(tagProfileURL, s.ProfileURL)
	e.symField(tagTitle, s.Title)
	e.symField(tagUserType, s.UserType)
	e.symField(tagPreferredLanguage, s.PreferredLanguage)
	e.symField(tagLocale, s.Locale)
	e.symField(tagTimezone, s.Timezone)
	e.multi(tagEmails, s.Emails, false, s.UserName)
	e.multi(tagPhoneNumbers, s.PhoneNumbers, false, "")
	e.multi(tagIms, s.Ims, false, "")
	e.multi(tagPhotos, s.Photos, false, "")
	if s.Addresses != nil {
		e.tag(tagAddresses)
		e.count(len(s.Addresses))
		for _, a := range s.Addresses {
			e.field(1, a.Formatted)
			e.field(2, a.StreetAddress)
			e.symField(3, a.Locality)
			e.symField(4, a.Region)
			e.field(5, a.PostalCode)
			e.symField(6, a.Country)
			e.symField(7, a.Type)
			e.boolPtr(8, a.Primary)
			e.end()
		}
	}
	// Entitlements and roles are a handful of values many users share.
	e.multi(tagEntitlements, s.Entitlements, true, "")
	e.multi(tagRoles, s.Roles, true, "")
	e.multi(tagX509Certificates, s.X509Certificates, false, "")
	if x := s.Enterprise; x != nil {
		e.tag(tagEnterprise)
		e.field(1, x.EmployeeNumber)
		e.symField(2, x.CostCenter)
		e.symField(3, x.Organization)
		e.symField(4, x.Division)
		e.symField(5, x.Department)
		if m := x.Manager; m != nil {
			e.tag(6)
			e.field(1, m.Value)
			e.field(2, m.Ref)
			e.field(3, m.DisplayName)
			e.end()
		}
		e.end()
	}
	if s.Extensions != nil {
		e.tag(tagExtensions)
		e.count(len(s.Extensions))
		for k, v := range s.Extensions {
			e.sym(k)
			e.b = append(e.b, b2u(v.Raw != nil))
			e.bytes(v.Raw)
		}
	}
}

// multi writes a multi-valued attribute; a value equal to userName (when not "") is tag 5.
func (e *enc) multi(t byte, vs []rosterv1.MultiValued, shared bool, userName string) {
	if vs == nil {
		return
	}
	e.tag(t)
	e.count(len(vs))
	for _, v := range vs {
		if v.Value != "" && v.Value == userName {
			e.tag(5)
		} else if v.Value != "" {
			e.tag(1)
			e.str(v.Value, shared)
		}
		if v.Display != "" {
			e.tag(2)
			e.str(v.Display, shared)
		}
		e.symField(3, v.Type)
		e.boolPtr(4, v.Primary)
		e.end()
	}
}

// dec reads an encoding. Strings are substrings of the buffer (no copy); an error sticks and
// makes every further read return zero values.
type dec struct {
	s   string
	i   int
	err error
	// userName is spec.userName once read (it precedes the emails that refer to it).
	userName string
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.i = len(d.s)
}

func (d *dec) tag() byte {
	if d.i >= len(d.s) {
		d.fail()
		return tagEnd
	}
	t := d.s[d.i]
	d.i++
	return t
}

func (d *dec) uvarint() uint64 {
	v, n := uvarintString(d.s[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

func (d *dec) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a list length, bounded by what the rest of the buffer can hold (an item takes
// at least one byte), so that a corrupt count cannot make a decoder allocate without end.
func (d *dec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) boolean() bool {
	t := d.tag()
	if t > 1 {
		d.fail()
	}
	return t == 1
}

func (d *dec) boolPtr() *bool { v := d.boolean(); return &v }

func (d *dec) str() string {
	h := d.uvarint()
	switch h & 3 {
	case strDict:
		s, ok := lookup(h >> 2)
		if !ok {
			d.fail()
		}
		return s
	case strUUID:
		if h != strUUID || len(d.s)-d.i < 16 {
			d.fail()
			return ""
		}
		d.i += 16
		return formatUUID([]byte(d.s[d.i-16 : d.i]))
	case strTime:
		if h != strTime {
			d.fail()
			return ""
		}
		sec, nsec := d.varint(), d.uvarint()
		if nsec >= 1e9 || d.err != nil {
			d.fail()
			return ""
		}
		return time.Unix(sec, int64(nsec)).UTC().Format(time.RFC3339Nano)
	}
	n := h >> 2
	if n > uint64(len(d.s)-d.i) {
		d.fail()
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

// bytes reads a byte string into a slice of its own: a caller may change it.
func (d *dec) bytes() []byte { return []byte(d.str()) }

func (d *dec) time() time.Time {
	switch d.uvarint() {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail()
			return time.Time{}
		}
		// Local, as metav1.Time's JSON decoding makes it.
		if t := time.Unix(sec, int64(nsec)); !t.IsZero() {
			return t
		}
		return time.Time{}
	}
	d.fail()
	return time.Time{}
}

func (d *dec) int64Ptr() *int64 { v := d.varint(); return &v }

// skip skips the value of field t of the struct at level lvl.
func (d *dec) skip(lvl level, t byte) {
	switch lvl.kind(t) {
	case kString:
		d.str()
	case kInt:
		d.varint()
	case kBool:
		d.boolean()
	case kTime:
		d.time()
	case kNone:
	case kStruct:
		d.skipStruct(lvl.sub(t))
	case kList:
		for range d.count() {
			d.skipStruct(lvl.sub(t))
		}
	case kStrings:
		for range d.count() {
			d.str()
		}
	case kPairs:
		for range d.count() {
			d.str()
			d.str()
		}
	case kRaw:
		for range d.count() {
			d.str()
			d.boolean()
			d.str()
		}
	default:
		d.fail()
	}
}

func (d *dec) skipStruct(lvl level) {
	for d.err == nil {
		t := d.tag()
		if t == tagEnd {
			return
		}
		d.skip(lvl, t)
	}
}

// Kinds of values, for skipping fields a partial decode does not want.
const (
	kBad = iota
	kString
	kInt
	kBool
	kTime
	kNone
	kStruct
	kList
	kStrings
	kPairs
	kRaw
)

// level is a struct of the encoding: the user, or one nested in it.
type level uint8

const (
	lvUser level = iota
	lvName
	lvMulti
	lvAddress
	lvEnterprise
	lvManager
	lvOwner
	lvCondition
)

func (l level) kind(t byte) int {
	switch l {
	case lvUser:
		switch t {
		case tagAPIVersion, tagKind, tagName, tagGenerateName, tagNamespace, tagSelfLink, tagUID, tagResourceVersion,
			tagUserName, tagExternalID, tagDisplayName, tagNickName, tagProfileURL, tagTitle, tagUserType,
			tagPreferredLanguage, tagLocale, tagTimezone:
			return kString
		case tagGeneration, tagGracePeriod, tagStatus:
			return kInt
		case tagCreated, tagDeleted:
			return kTime
		case tagActive:
			return kBool
		case tagLabelsEmpty:
			return kNone
		case tagUserNameParts, tagEnterprise:
			return kStruct
		case tagEmails, tagPhoneNumbers, tagIms, tagPhotos, tagEntitlements, tagRoles, tagX509Certificates,
			tagAddresses, tagOwners, tagConditions:
			return kList
		case tagFinalizers:
			return kStrings
		case tagAnnotations:
			return kPairs
		case tagExtensions:
			return kRaw
		}
	case lvName:
		if t >= 1 && t <= 6 {
			return kString
		}
	case lvMulti:
		switch {
		case t >= 1 && t <= 3:
			return kString
		case t == 4:
			return kBool
		case t == 5:
			return kNone
		}
	case lvAddress:
		switch {
		case t >= 1 && t <= 7:
			return kString
		case t == 8:
			return kBool
		}
	case lvEnterprise:
		switch {
		case t >= 1 && t <= 5:
			return kString
		case t == 6:
			return kStruct
		}
	case lvManager:
		if t >= 1 && t <= 3 {
			return kString
		}
	case lvOwner:
		switch {
		case t >= 1 && t <= 4:
			return kString
		case t == 5 || t == 6:
			return kBool
		}
	case lvCondition:
		switch {
		case t == 1 || t == 2 || t == 5 || t == 6:
			return kString
		case t == 3:
			return kInt
		case t == 4:
			return kTime
		}
	}
	return kBad
}

// sub is the level of struct or list field t.
func (l level) sub(t byte) level {
	switch l {
	case lvUser:
		switch t {
		case tagUserNameParts:
			return lvName
		case tagEnterprise:
			return lvEnterprise
		case tagAddresses:
			return lvAddress
		case tagOwners:
			return lvOwner
		case tagConditions:
			return lvCondition
		}
		return lvMulti
	case lvEnterprise:
		return lvManager
	}
	return l
}

// Mask selects the top-level fields a partial decode reads: bit t is tag t.
type Mask uint64

// Parts of a user for a partial decode.
const (
	// Meta is the metadata and TypeMeta.
	Meta Mask = 1<<tagSpec - 2
	// Spec is the whole spec.
	Spec Mask = (1<<tagSpecEnd - 1) &^ (1<<tagSpec - 1)
	// Status is the whole status.
	Status Mask = 1<<tagStatus | 1<<tagConditions
	// All is everything.
	All = Meta | Spec | Status
)

// decode decodes the fields of want into u, which it does not clear first.
func (d *dec) user(u *rosterv1.OrgUser, want Mask) {
	m := &u.ObjectMeta
	for d.err == nil {
		t := d.tag()
		if t == tagEnd {
			break
		}
		if t == tagUserName && want&(1<<t) == 0 {
			d.userName = d.str() // emails may refer to it
			continue
		}
		if t >= 64 || want&(1<<t) == 0 {
			d.skip(lvUser, t)
			continue
		}
		switch t {
		case tagAPIVersion:
			u.APIVersion = d.str()
		case tagKind:
			u.Kind = d.str()
		case tagName:
			m.Name = d.str()
		case tagGenerateName:
			m.GenerateName = d.str()
		case tagNamespace:
			m.Namespace = d.str()
		case tagSelfLink:
			m.SelfLink = d.str()
		case tagUID:
			m.UID = types.UID(d.str())
		case tagResourceVersion:
			m.ResourceVersion = d.str()
		case tagGeneration:
			m.Generation = d.varint()
		case tagCreated:
			m.CreationTimestamp = metav1.Time{Time: d.time()}
		case tagDeleted:
			m.DeletionTimestamp = &metav1.Time{Time: d.time()}
		case tagGracePeriod:
			m.DeletionGracePeriodSeconds = d.int64Ptr()
		case tagAnnotations:
			n := d.count()
			m.Annotations = make(map[string]string, n)
			for range n {
				k := d.str()
				m.Annotations[k] = d.str()
			}
		case tagOwners:
			m.OwnerReferences = make([]metav1.OwnerReference, d.count())
			for i := range m.OwnerReferences {
				d.owner(&m.OwnerReferences[i])
			}
		case tagFinalizers:
			m.Finalizers = make([]string, d.count())
			for i := range m.Finalizers {
				m.Finalizers[i] = d.str()
			}
		case tagLabelsEmpty:
			m.Labels = map[string]string{}
		case tagStatus:
			u.Status.ObservedGeneration = d.varint()
		case tagConditions:
			u.Status.Conditions = make([]metav1.Condition, d.count())
			for i := range u.Status.Conditions {
				d.condition(&u.Status.Conditions[i])
			}
		default:
			if t < tagSpec || t >= tagSpecEnd {
				d.fail()
				break
			}
			d.specField(&u.Spec, t)
		}
	}
}

func (d *dec) specField(s *rosterv1.OrgUserSpec, t byte) {
	switch t {
	case tagUserName:
		s.UserName = d.str()
		d.userName = s.UserName
	case tagExternalID:
		s.ExternalID = d.str()
	case tagActive:
		s.Active = d.boolPtr()
	case tagUserNameParts:
		n := &rosterv1.Name{}
		d.fields(lvName, func(t byte) {
			switch t {
			case 1:
				n.Formatted = d.str()
			case 2:
				n.FamilyName = d.str()
			case 3:
				n.GivenName = d.str()
			case 4:
				n.MiddleName = d.str()
			case 5:
				n.HonorificPrefix = d.str()
			case 6:
				n.HonorificSuffix = d.str()
			}
		})
		s.Name = n
	case tagDisplayName:
		s.DisplayName = d.str()
	case tagNickName:
		s.NickName = d.str()
	case tagProfileURL:
		s.ProfileURL = d.str()
	case tagTitle:
		s.Title = d.str()
	case tagUserType:
		s.UserType = d.str()
	case tagPreferredLanguage:
		s.PreferredLanguage = d.str()
	case tagLocale:
		s.Locale = d.str()
	case tagTimezone:
		s.Timezone = d.str()
	case tagEmails:
		s.Emails = d.multi()
	case tagPhoneNumbers:
		s.PhoneNumbers = d.multi()
	case tagIms:
		s.Ims = d.multi()
	case tagPhotos:
		s.Photos = d.multi()
	case tagEntitlements:
		s.Entitlements = d.multi()
	case tagRoles:
		s.Roles = d.multi()
	case tagX509Certificates:
		s.X509Certificates = d.multi()
	case tagAddresses:
		s.Addresses = make([]rosterv1.Address, d.count())
		for i := range s.Addresses {
			a := &s.Addresses[i]
			d.fields(lvAddress, func(t byte) {
				switch t {
				case 1:
					a.Formatted = d.str()
				case 2:
					a.StreetAddress = d.str()
				case 3:
					a.Locality = d.str()
				case 4:
					a.Region = d.str()
				case 5:
					a.PostalCode = d.str()
				case 6:
					a.Country = d.str()
				case 7:
					a.Type = d.str()
				case 8:
					a.Primary = d.boolPtr()
				}
			})
		}
	case tagEnterprise:
		x := &rosterv1.EnterpriseUser{}
		d.fields(lvEnterprise, func(t byte) {
			switch t {
			case 1:
				x.EmployeeNumber = d.str()
			case 2:
				x.CostCenter = d.str()
			case 3:
				x.Organization = d.str()
			case 4:
				x.Division = d.str()
			case 5:
				x.Department = d.str()
			case 6:
				m := &rosterv1.Manager{}
				d.fields(lvManager, func(t byte) {
					switch t {
					case 1:
						m.Value = d.str()
					case 2:
						m.Ref = d.str()
					case 3:
						m.DisplayName = d.str()
					}
				})
				x.Manager = m
			}
		})
		s.Enterprise = x
	case tagExtensions:
		n := d.count()
		s.Extensions = make(rosterv1.ExtensionValues, n)
		for range n {
			k := d.str()
			present := d.boolean()
			raw := d.bytes()
			if !present {
				raw = nil
			}
			s.Extensions[k] = apiextensionsv1.JSON{Raw: raw}
		}
	}
}

// fields reads a nested struct of level lvl, calling set for each field (which must read its
// value: every tag lvl knows is handled by its caller).
func (d *dec) fields(lvl level, set func(t byte)) {
	for d.err == nil {
		t := d.tag()
		if t == tagEnd {
			return
		}
		if lvl.kind(t) == kBad {
			d.fail()
			return
		}
		set(t)
	}
}

func (d *dec) multi() []rosterv1.MultiValued {
	out := make([]rosterv1.MultiValued, d.count())
	for i := range out {
		v := &out[i]
		d.fields(lvMulti, func(t byte) {
			switch t {
			case 1:
				v.Value = d.str()
			case 2:
				v.Display = d.str()
			case 3:
				v.Type = d.str()
			case 4:
				v.Primary = d.boolPtr()
			case 5:
				v.Value = d.userName
			}
		})
	}
	return out
}

func (d *dec) owner(r *metav1.OwnerReference) {
	d.fields(lvOwner, func(t byte) {
		switch t {
		case 1:
			r.APIVersion = d.str()
		case 2:
			r.Kind = d.str()
		case 3:
			r.Name = d.str()
		case 4:
			r.UID = types.UID(d.str())
		case 5:
			r.Controller = d.boolPtr()
		case 6:
			r.BlockOwnerDeletion = d.boolPtr()
		}
	})
}

func (d *dec) condition(c *metav1.Condition) {
	d.fields(lvCondition, func(t byte) {
		switch t {
		case 1:
			c.Type = d.str()
		case 2:
			c.Status = metav1.ConditionStatus(d.str())
		case 3:
			c.ObservedGeneration = d.varint()
		case 4:
			c.LastTransitionTime = metav1.Time{Time: d.time()}
		case 5:
			c.Reason = d.str()
		case 6:
			c.Message = d.str()
		}
	})
}

// uvarintString is binary.Uvarint over a string, without a copy.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var sh uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -1
			}
			return x | uint64(b)<<sh, i + 1
		}
		x |= uint64(b&0x7f) << sh
		sh += 7
	}
	return 0, 0
}
