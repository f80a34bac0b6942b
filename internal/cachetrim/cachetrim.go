// Package cachetrim is the manager cache's transform: it strips managedFields and makes the
// strings that repeat across cached objects share one copy.
//
// Why: the informer decodes every object on its own, so each cached OrgUser carries its own
// copy of its namespace, its TypeMeta, its org label, its condition reasons and messages, the
// "work" of its emails; each member slice its own copy of every member id. At 100,000 users
// those copies are tens of MiB that say nothing new. Go's unique package keeps one copy of
// each value while an object uses it, and forgets it once none does, so the table follows the
// cache and cannot grow without bound.
//
// The transform changes no value: a transformed object is deep-equal to the decoded one, and
// readers (controllers comparing conditions, the SCIM renderer, the admission webhook) see
// exactly what the apiserver sent, managedFields aside. It only replaces strings by equal
// strings; maps and pointers stay the object's own (see Transform).
package cachetrim

import (
	"unique"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Transform strips managedFields from obj and interns the strings that repeat across
// objects, in place. It is a client-go TransformFunc (cache.Options.DefaultTransform): any
// object it does not know keeps the strip and has its metadata interned.
//
// High-cardinality strings (names, UIDs, resourceVersions, userNames, timestamps) are left
// alone: interning a string nobody else holds costs a table entry and saves nothing. Member ids
// of OrgTeamMemberSlices are the exception: a user is a member of several teams, each slice
// decoded apart, and the OrgUser's own name is the same string.
//
// Labels and annotations maps are not shared between objects with equal labels, although that
// would save a map per object: a Go map cannot be made read-only, readers with
// client.UnsafeDisableDeepCopy get the cached object itself, and one in-place change there
// would then change every object sharing the map. Pointers to bools (active, primary) stay
// the object's own for the same reason.
func Transform(obj any) (any, error) {
	if o, err := meta.Accessor(obj); err == nil && o.GetManagedFields() != nil {
		// Nil-checked like controller-runtime's TransformStripManagedFields
		// (kubernetes/kubernetes#124337).
		o.SetManagedFields(nil)
	}
	if ro, ok := obj.(runtime.Object); ok {
		if tm, ok := ro.GetObjectKind().(*metav1.TypeMeta); ok {
			typeMeta(tm)
		}
	}
	switch o := obj.(type) {
	case *rosterv1.OrgUser:
		objectMeta(&o.ObjectMeta)
		userSpec(&o.Spec)
		// The name is the id every member slice of the user's teams lists (memberIDs).
		o.Name = s(o.Name)
		conditions(o.Status.Conditions)
	case *rosterv1.OrgTeam:
		objectMeta(&o.ObjectMeta)
		o.Name = s(o.Name) // slices' spec.team and ownerReferences name it
		o.Spec.ManagedBy = s(o.Spec.ManagedBy)
		extensionKeys(o.Spec.Extensions)
		memberIDs(o.Status.UnresolvedMembers)
		conditions(o.Status.Conditions)
	case *rosterv1.OrgTeamMemberSlice:
		objectMeta(&o.ObjectMeta)
		o.Spec.Team = s(o.Spec.Team)
		memberIDs(o.Spec.Members)
	case *rosterv1.OrgTeamNameClaim:
		objectMeta(&o.ObjectMeta)
		o.Spec.Team = s(o.Spec.Team)
	case *rosterv1.Organization:
		objectMeta(&o.ObjectMeta)
		o.Spec.Namespace = s(o.Spec.Namespace)
		conditions(o.Status.Conditions)
	case *rosterv1.TeamRoleBinding:
		objectMeta(&o.ObjectMeta)
		bindingSpec(&o.Spec.Team, &o.Spec.RoleRef)
		bindingStatus(&o.Status)
	case *rosterv1.ClusterTeamRoleBinding:
		objectMeta(&o.ObjectMeta)
		o.Spec.Organization = s(o.Spec.Organization)
		bindingSpec(&o.Spec.Team, &o.Spec.RoleRef)
		bindingStatus(&o.Status)
	case *rbacv1.RoleBinding:
		objectMeta(&o.ObjectMeta)
		roleBinding(o.Subjects, &o.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		objectMeta(&o.ObjectMeta)
		roleBinding(o.Subjects, &o.RoleRef)
	case *metav1.PartialObjectMetadata:
		objectMeta(&o.ObjectMeta)
	default:
		if m, ok := obj.(interface{ GetObjectMeta() metav1.Object }); ok {
			if om, ok := m.GetObjectMeta().(*metav1.ObjectMeta); ok {
				objectMeta(om)
			}
		}
	}
	return obj, nil
}

// s returns the canonical copy of v. The empty string needs no table entry.
func s[T ~string](v T) T {
	if v == "" {
		return v
	}
	return T(unique.Make(string(v)).Value())
}

func typeMeta(tm *metav1.TypeMeta) {
	tm.APIVersion, tm.Kind = s(tm.APIVersion), s(tm.Kind)
}

// objectMeta interns the metadata every object of a namespace or kind repeats. The name, UID,
// resourceVersion and annotation values (last-modified times) are each object's own.
func objectMeta(m *metav1.ObjectMeta) {
	m.Namespace = s(m.Namespace)
	m.GenerateName = s(m.GenerateName)
	internMap(m.Labels, true)
	internMap(m.Annotations, false)
	for i := range m.Finalizers {
		m.Finalizers[i] = s(m.Finalizers[i])
	}
	for i := range m.OwnerReferences {
		r := &m.OwnerReferences[i]
		// A team's slices all point at the team: its name and UID repeat too.
		r.APIVersion, r.Kind, r.Name, r.UID = s(r.APIVersion), s(r.Kind), s(r.Name), s(r.UID)
	}
}

// internMap interns the keys of m, and its values if values is set, in place. Assigning to
// an existing key keeps the map's original key string, so each key is deleted and set again.
func internMap(m map[string]string, values bool) {
	if len(m) == 0 {
		return
	}
	// Collect first: changing a map while ranging over it may visit entries twice.
	type kv struct{ k, v string }
	var buf [4]kv
	entries := buf[:0]
	for k, v := range m {
		entries = append(entries, kv{k, v})
	}
	for _, e := range entries {
		v := e.v
		if values {
			v = s(v)
		}
		delete(m, e.k)
		m[s(e.k)] = v
	}
}

func conditions(cs []metav1.Condition) {
	for i := range cs {
		c := &cs[i]
		c.Type, c.Status, c.Reason, c.Message = s(c.Type), s(c.Status), s(c.Reason), s(c.Message)
	}
}

// userSpec interns the attributes that take few values across an organization's users:
// multi-valued types, given and family names, locales, titles, departments, places.
func userSpec(u *rosterv1.OrgUserSpec) {
	u.UserType, u.Title = s(u.UserType), s(u.Title)
	u.PreferredLanguage, u.Locale, u.Timezone = s(u.PreferredLanguage), s(u.Locale), s(u.Timezone)
	if n := u.Name; n != nil {
		n.GivenName, n.FamilyName, n.MiddleName = s(n.GivenName), s(n.FamilyName), s(n.MiddleName)
		n.HonorificPrefix, n.HonorificSuffix = s(n.HonorificPrefix), s(n.HonorificSuffix)
	}
	for _, vs := range [][]rosterv1.MultiValued{u.Emails, u.PhoneNumbers, u.Ims, u.Photos, u.Entitlements, u.Roles, u.X509Certificates} {
		for i := range vs {
			vs[i].Type = s(vs[i].Type)
		}
	}
	// Entitlements and roles are a handful of values shared by many users.
	for _, vs := range [][]rosterv1.MultiValued{u.Entitlements, u.Roles} {
		for i := range vs {
			vs[i].Value, vs[i].Display = s(vs[i].Value), s(vs[i].Display)
		}
	}
	for i := range u.Addresses {
		a := &u.Addresses[i]
		a.Type, a.Locality, a.Region, a.Country = s(a.Type), s(a.Locality), s(a.Region), s(a.Country)
	}
	if e := u.Enterprise; e != nil {
		e.CostCenter, e.Organization, e.Division, e.Department = s(e.CostCenter), s(e.Organization), s(e.Division), s(e.Department)
		if m := e.Manager; m != nil {
			// Many users share a manager.
			m.Value, m.Ref, m.DisplayName = s(m.Value), s(m.Ref), s(m.DisplayName)
		}
	}
	extensionKeys(u.Extensions)
}

// extensionKeys interns the schema URNs of extension values (their values are raw JSON).
func extensionKeys(x rosterv1.ExtensionValues) {
	if len(x) == 0 {
		return
	}
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	for _, k := range keys {
		v := x[k]
		delete(x, k)
		x[s(k)] = v
	}
}

// memberIDs interns user ids: one copy per user, whichever slices and users hold it.
func memberIDs(ids []string) {
	for i := range ids {
		ids[i] = s(ids[i])
	}
}

func bindingSpec(team *rosterv1.TeamRef, role *rosterv1.RoleRef) {
	team.ID, team.DisplayName = s(team.ID), s(team.DisplayName)
	role.Kind, role.Name = s(role.Kind), s(role.Name)
}

func bindingStatus(st *rosterv1.TeamRoleBindingStatus) {
	conditions(st.Conditions)
	st.Team, st.Namespaces = s(st.Team), s(st.Namespaces)
	for i := range st.Rendered {
		r := &st.Rendered[i]
		r.Kind, r.Namespace = s(r.Kind), s(r.Namespace)
	}
}

func roleBinding(subjects []rbacv1.Subject, role *rbacv1.RoleRef) {
	for i := range subjects {
		sub := &subjects[i]
		sub.Kind, sub.APIGroup, sub.Namespace = s(sub.Kind), s(sub.APIGroup), s(sub.Namespace)
		// In Group mode the subject is the team's group; in User mode the users of a team
		// bound in many namespaces repeat in every namespace's binding.
		sub.Name = s(sub.Name)
	}
	role.APIGroup, role.Kind, role.Name = s(role.APIGroup), s(role.Kind), s(role.Name)
}
