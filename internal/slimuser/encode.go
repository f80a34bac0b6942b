package slimuser

import (
	"encoding/binary"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

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

// strIfShared writes s as a dictionary entry if the dictionary has it already, else inline.
func (e *enc) strIfShared(s string) {
	if id, ok := existingSymbol(s); ok {
		e.uvarint(uint64(id)<<2 | strDict)
		return
	}
	e.inline(s)
}

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
			if c.Message != "" {
				// A condition that holds has the controller's fixed text, shared by every user;
				// a failure's names its error, often one user's own (a conflicting address):
				// it may use an entry that is there already (an outage's message a success
				// once had) but adds none, or one-off messages would fill the bounded
				// dictionary for good.
				e.tag(6)
				if c.Status == metav1.ConditionTrue {
					e.str(c.Message, true)
				} else {
					e.strIfShared(c.Message)
				}
			}
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
