// Package slimuser is the compact form in which the manager's cache holds OrgUsers.
//
// Why: at 100,000 users two thirds of the manager's live heap were the cached OrgUser structs
// (~1.7 KiB each after internal/cachetrim: a 704 B struct, its name struct, emails,
// conditions and finalizers slices, and their strings). A User keeps the few metadata fields
// the informer machinery and Roster's event handlers read (name, namespace, resourceVersion,
// generation, labels, deletion timestamp) and encodes everything else in one immutable
// string (codec.go): only populated fields, strings many users share by reference into a
// process-wide dictionary.
//
// It is transparent to readers that copy: controller-runtime's cached Get and List deep-copy
// what the store holds (DeepCopyObject), and a User's DeepCopyObject decodes a new,
// independent *rosterv1.OrgUser, exactly the object the apiserver sent (managedFields
// stripped, strings interned by cachetrim). Readers that take the stored object itself
// (client.UnsafeDisableDeepCopy, informer event handlers, internal/order, internal/cachescan)
// get a *User: they read it through its accessors (Active, UserName, Condition, …), Reader
// and Each in this package, or decode it (OrgUser, DecodeInto). A User is read-only: its
// setters panic. internal/slimuser's TestNoReaderExpectsCachedOrgUsers finds code that
// expects cached OrgUsers.
//
// One consequence: client-go's cache mutation detector (KUBE_CACHE_MUTATION_DETECTOR=true)
// cannot watch a cache of Users: it compares each stored object with its DeepCopyObject, which
// is an OrgUser, and would report every user as mutated.
package slimuser

import (
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// User is a cached OrgUser in compact form. It implements client.Object, so the informer's
// store keys it and event handlers and predicates read its metadata; DeepCopyObject returns
// a *rosterv1.OrgUser.
type User struct {
	data            string // the encoding (codec.go), never changed
	name            string // views of data
	resourceVersion string
	namespace       string            // the dictionary's copy
	labels          map[string]string // shared between users (cachetrim): never written
	generation      int64
	deletion        *metav1.Time // nil unless terminating
	inactive        bool         // spec.active is false
}

var (
	_ client.Object     = (*User)(nil)
	_ schema.ObjectKind = (*User)(nil)
	_ runtime.Object    = (*User)(nil)
	_ metav1.Object     = (*User)(nil)
)

// New returns the compact form of u. u's labels map is kept, not copied: it is the cache's
// shared one (cachetrim), read-only like the User.
func New(u *rosterv1.OrgUser) *User {
	e := enc{b: make([]byte, 0, 256)}
	nameAt, rvAt := e.user(u)
	data := string(e.b)
	out := &User{
		data: data, labels: u.Labels, generation: u.Generation,
		inactive: !u.Spec.IsActive(),
	}
	if u.Name != "" {
		out.name = data[nameAt : nameAt+len(u.Name)]
	}
	if u.ResourceVersion != "" {
		out.resourceVersion = data[rvAt : rvAt+len(u.ResourceVersion)]
	}
	if u.Namespace != "" {
		if id, ok := symbol(u.Namespace); ok {
			out.namespace, _ = lookup(uint64(id))
		} else {
			out.namespace = u.Namespace
		}
	}
	if u.DeletionTimestamp != nil {
		t := *u.DeletionTimestamp
		t.Time = time.Unix(t.Unix(), int64(t.Nanosecond())) // as the decoder gives it
		out.deletion = &t
	}
	return out
}

// decodeString returns the compact form's bytes decoded: for tests of the codec (the fuzz target).
func decodeString(data string, labels map[string]string) (*rosterv1.OrgUser, error) {
	u := &rosterv1.OrgUser{}
	d := dec{s: data}
	d.user(u, All)
	if d.err == nil && d.i != len(d.s) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	if labels != nil {
		u.Labels = maps.Clone(labels)
	}
	return u, nil
}

// OrgUser decodes u into a new OrgUser that shares nothing changeable with the cache (its
// strings are the buffer's, which never changes).
func (u *User) OrgUser() *rosterv1.OrgUser {
	out := &rosterv1.OrgUser{}
	u.DecodeInto(out, All)
	return out
}

// DecodeInto decodes the parts of u that want selects into dst (labels with the whole of
// Meta only), which it does not clear:
// pass a zeroed OrgUser. Slices, maps and pointers it sets are new; strings are shared with
// the buffer (immutable). A scan reuses one dst for each user, decoding only what it reads.
func (u *User) DecodeInto(dst *rosterv1.OrgUser, want Mask) {
	d := dec{s: u.data}
	d.user(dst, want)
	if d.err != nil {
		// The buffer is this package's own encoding: a failure is a bug, not bad input.
		panic(fmt.Sprintf("slimuser: cached user %s/%s: %v", u.namespace, u.name, d.err))
	}
	if want&Meta == Meta && u.labels != nil {
		dst.Labels = maps.Clone(u.labels)
	}
}

// SpecMask returns the mask of the spec attributes named (their JSON names, as OrgUserSpec
// and SCIM name them, any case), and ok false if one of the names is no spec attribute.
func SpecMask(names ...string) (m Mask, ok bool) {
	for _, n := range names {
		t, found := specTags[strings.ToLower(n)]
		if !found {
			return m, false
		}
		m |= 1 << t
	}
	return m, true
}

var specTags = map[string]byte{
	"username": tagUserName, "externalid": tagExternalID, "active": tagActive, "name": tagUserNameParts,
	"displayname": tagDisplayName, "nickname": tagNickName, "profileurl": tagProfileURL, "title": tagTitle,
	"usertype": tagUserType, "preferredlanguage": tagPreferredLanguage, "locale": tagLocale, "timezone": tagTimezone,
	"emails": tagEmails, "phonenumbers": tagPhoneNumbers, "ims": tagIms, "photos": tagPhotos, "addresses": tagAddresses,
	"entitlements": tagEntitlements, "roles": tagRoles, "x509certificates": tagX509Certificates,
	"enterprise": tagEnterprise, "extensions": tagExtensions,
}

// Active reports whether the user is active (spec.active absent or true), without a decode.
func (u *User) Active() bool { return !u.inactive }

// field returns a decoder at the value of top-level field t, and false when u has none.
func (u *User) field(t byte) (dec, bool) {
	d := dec{s: u.data}
	for d.err == nil {
		tag := d.tag()
		if tag == tagEnd {
			break
		}
		if tag == t {
			return d, true
		}
		d.skip(lvUser, tag)
	}
	return d, false
}

// str returns top-level string field t, "" if absent, without a decode.
func (u *User) str(t byte) string {
	if d, ok := u.field(t); ok {
		return d.str()
	}
	return ""
}

// UserName is spec.userName.
func (u *User) UserName() string { return u.str(tagUserName) }

// DisplayName is spec.displayName.
func (u *User) DisplayName() string { return u.str(tagDisplayName) }

// ExternalID is spec.externalId.
func (u *User) ExternalID() string { return u.str(tagExternalID) }

// UID is metadata.uid.
func (u *User) UID() types.UID { return types.UID(u.str(tagUID)) }

// Emails yields the value of each of spec.emails, in order, without a decode.
func (u *User) Emails() iter.Seq[string] {
	return func(yield func(string) bool) {
		d, ok := u.field(tagEmails)
		if !ok {
			return
		}
		userName := u.UserName() // what tag 5 refers to
		for range d.count() {
			value := ""
			for d.err == nil {
				ft := d.tag()
				if ft == tagEnd {
					break
				}
				switch ft {
				case 1:
					value = d.str()
				case 5:
					value = userName
				default:
					d.skip(lvMulti, ft)
				}
			}
			if d.err != nil || !yield(value) {
				return
			}
		}
	}
}

// Condition returns the status condition of type t, decoded on the stack, and whether there
// is one (as meta.FindStatusCondition).
func (u *User) Condition(t string) (metav1.Condition, bool) {
	d, ok := u.field(tagConditions)
	if !ok {
		return metav1.Condition{}, false
	}
	for range d.count() {
		var c metav1.Condition
		d.condition(&c)
		if c.Type == t && d.err == nil {
			return c, true
		}
	}
	return metav1.Condition{}, false
}

// GetObjectKind is the user itself: its TypeMeta is in the buffer.
func (u *User) GetObjectKind() schema.ObjectKind { return u }

// GroupVersionKind is the cached object's apiVersion and kind.
func (u *User) GroupVersionKind() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(u.str(tagAPIVersion), u.str(tagKind))
}

// SetGroupVersionKind panics unless gvk is the user's already: a User is read-only.
func (u *User) SetGroupVersionKind(gvk schema.GroupVersionKind) {
	if gvk != u.GroupVersionKind() {
		readOnly("SetGroupVersionKind")
	}
}

// DeepCopyObject returns a new *rosterv1.OrgUser: what every copying reader of the cache
// (controller-runtime's cached Get and List) receives.
func (u *User) DeepCopyObject() runtime.Object { return u.OrgUser() }

// metaField decodes metadata field t only.
func (u *User) metaField(t byte) *rosterv1.OrgUser {
	out := &rosterv1.OrgUser{}
	u.DecodeInto(out, 1<<t)
	return out
}

func readOnly(method string) {
	panic("slimuser: " + method + " on a cached OrgUser: the cache's objects are read-only; change a copy (DeepCopyObject)")
}

// GetName and the other getters of metav1.Object read the user's metadata. The hot ones (the
// informer's key, event handlers, predicates) are fields; the others decode.
func (u *User) GetName() string                    { return u.name }
func (u *User) GetNamespace() string               { return u.namespace }
func (u *User) GetResourceVersion() string         { return u.resourceVersion }
func (u *User) GetGeneration() int64               { return u.generation }
func (u *User) GetLabels() map[string]string       { return u.labels }
func (u *User) GetDeletionTimestamp() *metav1.Time { return u.deletion }
func (u *User) GetUID() types.UID                  { return u.UID() }
func (u *User) GetGenerateName() string            { return u.str(tagGenerateName) }
func (u *User) GetSelfLink() string                { return u.str(tagSelfLink) }
func (u *User) GetCreationTimestamp() metav1.Time {
	if d, ok := u.field(tagCreated); ok {
		return metav1.Time{Time: d.time()}
	}
	return metav1.Time{}
}
func (u *User) GetDeletionGracePeriodSeconds() *int64 {
	return u.metaField(tagGracePeriod).DeletionGracePeriodSeconds
}
func (u *User) GetAnnotations() map[string]string { return u.metaField(tagAnnotations).Annotations }

// GetFinalizers reads the finalizers in place: only the slice it returns is allocated (the
// store controllers' predicate reads the old and new user's of every update event).
func (u *User) GetFinalizers() []string {
	d, ok := u.field(tagFinalizers)
	if !ok {
		return nil
	}
	out := make([]string, d.count())
	for i := range out {
		out[i] = d.str()
	}
	if d.err != nil {
		// The buffer is this package's own encoding: a failure is a bug, as in DecodeInto.
		panic(fmt.Sprintf("slimuser: cached user %s/%s: %v", u.namespace, u.name, d.err))
	}
	return out
}
func (u *User) GetOwnerReferences() []metav1.OwnerReference {
	return u.metaField(tagOwners).OwnerReferences
}

// GetManagedFields is always nil: the cache strips them (cachetrim).
func (u *User) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }

// The setters of metav1.Object panic: a cached object is never changed in place.
func (u *User) SetName(string)                               { readOnly("SetName") }
func (u *User) SetNamespace(string)                          { readOnly("SetNamespace") }
func (u *User) SetGenerateName(string)                       { readOnly("SetGenerateName") }
func (u *User) SetUID(types.UID)                             { readOnly("SetUID") }
func (u *User) SetResourceVersion(string)                    { readOnly("SetResourceVersion") }
func (u *User) SetGeneration(int64)                          { readOnly("SetGeneration") }
func (u *User) SetSelfLink(string)                           { readOnly("SetSelfLink") }
func (u *User) SetCreationTimestamp(metav1.Time)             { readOnly("SetCreationTimestamp") }
func (u *User) SetDeletionTimestamp(*metav1.Time)            { readOnly("SetDeletionTimestamp") }
func (u *User) SetDeletionGracePeriodSeconds(*int64)         { readOnly("SetDeletionGracePeriodSeconds") }
func (u *User) SetLabels(map[string]string)                  { readOnly("SetLabels") }
func (u *User) SetAnnotations(map[string]string)             { readOnly("SetAnnotations") }
func (u *User) SetFinalizers([]string)                       { readOnly("SetFinalizers") }
func (u *User) SetOwnerReferences([]metav1.OwnerReference)   { readOnly("SetOwnerReferences") }
func (u *User) SetManagedFields([]metav1.ManagedFieldsEntry) { readOnly("SetManagedFields") }
