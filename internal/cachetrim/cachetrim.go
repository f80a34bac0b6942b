// Package cachetrim is the manager cache's transform: it strips managedFields and makes the
// strings that repeat across cached objects share one copy.
//
// Why: the informer decodes every object on its own, so each cached OrgUser carries its own
// copy of its namespace, its TypeMeta, its org label, its condition reasons and messages, the
// "work" of its emails. At 100,000 users those copies are MiB that say nothing new.
//
// The table is Roster's own, not Go's unique package: unique.Make(v).Value() keeps a value in
// its table only while a unique.Handle to it lives, and a transform keeps only the string, so
// every garbage collection empties the table and objects decoded after it get fresh copies
// (measured: member ids interned that way cost more than they saved). The table holds the
// canonical strings itself instead, and is bounded: it is started afresh once it holds
// maxEntries values, so odd values (error messages in conditions) cannot make it grow
// without end; objects keep the strings they got.
//
// The transform changes no value: a transformed object is deep-equal to the decoded one, and
// readers (controllers comparing conditions, the SCIM renderer, the admission webhook) see
// exactly what the apiserver sent, managedFields aside. It replaces strings by equal strings
// and labels maps by equal maps shared between objects (labels.go says why that is safe and
// how CheckShared guards it); annotations maps and pointers stay the object's own.
package cachetrim

import (
	"strings"
	"sync"

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
// High-cardinality strings (names, UIDs, resourceVersions, userNames, family names,
// timestamps, member ids) are left alone: a table entry for a string few objects hold costs
// about what it saves, and such values would crowd the bounded table.
//
// Small labels maps are shared between objects with equal labels (one map per label set, see
// labels): cached objects are read-only to every reader, and CheckShared catches one that
// writes. Annotations maps are not: their values (last-modified times) are each object's
// own. Pointers to bools (active, primary) stay the object's own: a pointer saves nothing.
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
		conditions(o.Status.Conditions)
	case *rosterv1.OrgTeam:
		objectMeta(&o.ObjectMeta)
		o.Name = s(o.Name) // slices' spec.team and ownerReferences name it
		o.Spec.ManagedBy = s(o.Spec.ManagedBy)
		extensionKeys(o.Spec.Extensions)
		conditions(o.Status.Conditions)
	case *rosterv1.OrgTeamMemberSlice:
		objectMeta(&o.ObjectMeta)
		o.Spec.Team = s(o.Spec.Team)
		// Member ids are not interned here: this table is bounded by a count and would forget
		// ids still in use. The manager's cache interns them with internal/memberids.
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

// maxEntries bounds the table: a few thousand values repeat across an install's objects
// (namespaces, team names, condition texts, label keys); past this, the table starts afresh.
const maxEntries = 16384

var table = struct {
	sync.Mutex
	m map[string]string
}{m: make(map[string]string)}

// s returns the table's copy of v, which becomes the table's copy if there was none. The
// informers of each kind transform concurrently, hence the lock.
func s[T ~string](v T) T {
	if v == "" {
		return v
	}
	table.Lock()
	defer table.Unlock()
	if c, ok := table.m[string(v)]; ok {
		return T(c)
	}
	if len(table.m) >= maxEntries {
		table.m = make(map[string]string)
	}
	// A copy of its own: v may share its bytes with something larger (a decode buffer).
	c := strings.Clone(string(v))
	table.m[c] = c
	return T(c)
}

func typeMeta(tm *metav1.TypeMeta) {
	tm.APIVersion, tm.Kind = s(tm.APIVersion), s(tm.Kind)
}

// objectMeta interns the metadata every object of a namespace or kind repeats. The name, UID,
// resourceVersion and annotation values (last-modified times) are each object's own.
func objectMeta(m *metav1.ObjectMeta) {
	m.Namespace = s(m.Namespace)
	m.GenerateName = s(m.GenerateName)
	m.Labels = labels(m.Labels)
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
// multi-valued types, locales, user types, departments, countries.
func userSpec(u *rosterv1.OrgUserSpec) {
	u.UserType = s(u.UserType)
	u.PreferredLanguage, u.Locale, u.Timezone = s(u.PreferredLanguage), s(u.Locale), s(u.Timezone)
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
		a.Type, a.Region, a.Country = s(a.Type), s(a.Region), s(a.Country)
	}
	if e := u.Enterprise; e != nil {
		e.CostCenter, e.Organization, e.Division, e.Department = s(e.CostCenter), s(e.Organization), s(e.Division), s(e.Department)
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
		// Subject names: the team's group (Group mode) or each member (User mode, many values).
	}
	role.APIGroup, role.Kind, role.Name = s(role.APIGroup), s(role.Kind), s(role.Name)
}
