package slimuser

import (
	"encoding/binary"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

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

// skipStr skips a string without building it (a packed UUID or time would be formatted).
func (d *dec) skipStr() {
	h := d.uvarint()
	switch h & 3 {
	case strDict:
	case strUUID:
		if h != strUUID || len(d.s)-d.i < 16 {
			d.fail()
			return
		}
		d.i += 16
	case strTime:
		if h != strTime {
			d.fail()
			return
		}
		d.varint()
		d.uvarint()
	default:
		if n := h >> 2; n > uint64(len(d.s)-d.i) {
			d.fail()
		} else {
			d.i += int(n)
		}
	}
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
		d.skipStr()
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
			d.skipStr()
		}
	case kPairs:
		for range d.count() {
			d.skipStr()
			d.skipStr()
		}
	case kRaw:
		for range d.count() {
			d.skipStr()
			d.boolean()
			d.skipStr()
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
	// Identity is the metadata a user's SCIM document reads (id, meta.created,
	// meta.lastModified, meta.version, meta.location): name, namespace, UID, resourceVersion,
	// generation, creation time and annotations. Not the labels (only the whole of Meta
	// decodes them, as a copy), owners or finalizers: a list page decodes it for every user.
	Identity Mask = 1<<tagName | 1<<tagNamespace | 1<<tagUID | 1<<tagResourceVersion |
		1<<tagGeneration | 1<<tagCreated | 1<<tagAnnotations
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
