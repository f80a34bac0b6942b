package cachetrim_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
	"unsafe"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/randfill"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/cachetrim"
)

// cachedKinds are the kinds the manager caches with the transform, and a metadata-only one.
func cachedKinds() []client.Object {
	role := &metav1.PartialObjectMetadata{}
	role.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("Role"))
	return []client.Object{
		&rosterv1.OrgUser{}, &rosterv1.OrgTeam{}, &rosterv1.OrgTeamMemberSlice{}, &rosterv1.Organization{},
		&rosterv1.OrgTeamNameClaim{}, &rosterv1.TeamRoleBinding{}, &rosterv1.ClusterTeamRoleBinding{},
		&rbacv1.RoleBinding{}, &rbacv1.ClusterRoleBinding{}, role,
	}
}

// filler fills every field, lists and maps with several entries, with JSON-representable
// values (times in seconds, raw JSON that parses).
func filler(seed int64) *randfill.Filler {
	return randfill.NewWithSeed(seed).NilChance(0).NumElements(2, 3).Funcs(
		func(t *metav1.Time, c randfill.Continue) { *t = metav1.Unix(int64(c.Rand.Int31()), 0) },
		func(t *metav1.MicroTime, c randfill.Continue) {
			*t = metav1.NewMicroTime(time.Unix(int64(c.Rand.Int31()), int64(c.Rand.Intn(1e6))*1e3))
		},
		func(j *apiextensionsv1.JSON, c randfill.Continue) {
			j.Raw = []byte(fmt.Sprintf(`{"n":%d}`, c.Rand.Intn(100)))
		},
		func(f *metav1.FieldsV1, c randfill.Continue) { f.Raw = []byte(`{"f:spec":{}}`) },
	)
}

var codecs = serializer.NewCodecFactory(app.NewScheme())

// decode decodes data into a new object of obj's type as the informer does: the scheme's JSON
// deserializer, each call with strings of its own.
func decode(t testing.TB, data []byte, obj client.Object) client.Object {
	t.Helper()
	into := obj.DeepCopyObject().(client.Object)
	if _, _, err := codecs.UniversalDeserializer().Decode(data, nil, into); err != nil {
		t.Fatalf("decoding %T: %v", obj, err)
	}
	return into
}

// encode fills an object of obj's type with seed's values and returns its JSON.
func encode(t testing.TB, obj client.Object, seed int64) []byte {
	t.Helper()
	o := obj.DeepCopyObject().(client.Object)
	gvk := o.GetObjectKind().GroupVersionKind()
	if pom, ok := o.(*metav1.PartialObjectMetadata); ok {
		filler(seed).Fill(&pom.ObjectMeta)
	} else {
		filler(seed).Fill(o)
		kinds, _, err := app.NewScheme().ObjectKinds(o)
		if err != nil {
			t.Fatal(err)
		}
		gvk = kinds[0]
	}
	o.GetObjectKind().SetGroupVersionKind(gvk)
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatalf("encoding %T: %v", o, err)
	}
	return data
}

// TestTransformKeepsEveryValue: a transformed object is deep-equal to the same JSON decoded
// without the transform, managedFields aside, for every cached kind with every field filled.
func TestTransformKeepsEveryValue(t *testing.T) {
	for _, kind := range cachedKinds() {
		for seed := range int64(20) {
			data := encode(t, kind, seed)
			want, got := decode(t, data, kind), decode(t, data, kind)
			if len(want.GetManagedFields()) == 0 || len(want.GetLabels()) == 0 {
				t.Fatalf("%T: the filler left managedFields or labels empty", kind)
			}
			out, err := cachetrim.Transform(got)
			if err != nil || out != any(got) {
				t.Fatalf("%T: Transform returned %p, %v; want the object itself", kind, out, err)
			}
			if got.GetManagedFields() != nil {
				t.Errorf("%T: managedFields kept", kind)
			}
			want.SetManagedFields(nil)
			if !equality.Semantic.DeepEqual(want, got) || !reflect.DeepEqual(want, got) {
				t.Errorf("%T seed %d: the transform changed the object:\nwant %+v\ngot  %+v", kind, seed, want, got)
			}
		}
	}
}

func same(a, b string) bool { return a != "" && unsafe.StringData(a) == unsafe.StringData(b) }

// TestTransformShares: two objects decoded apart hold their own copies of equal strings; after
// the transform they hold one.
func TestTransformShares(t *testing.T) {
	primary := true
	user := func(name string) *rosterv1.OrgUser {
		return &rosterv1.OrgUser{
			TypeMeta: metav1.TypeMeta{APIVersion: rosterv1.GroupVersion.String(), Kind: "OrgUser"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "org-a", Name: name, Labels: map[string]string{rosterv1.OrgLabel: "org-a"},
				Annotations: map[string]string{rosterv1.LastModifiedAnnotation: "2026-01-01T00:00:00Z"}, Finalizers: []string{"scim.roster.dev/store"}},
			Spec: rosterv1.OrgUserSpec{UserName: name + "@example.com", Locale: "en-US", Name: &rosterv1.Name{GivenName: "Ada", FamilyName: "Lovelace"},
				Emails: []rosterv1.MultiValued{{Value: name + "@example.com", Type: "work", Primary: &primary}}},
			Status: rosterv1.OrgUserStatus{Conditions: []metav1.Condition{{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Synced", Message: "in the identity store"}}},
		}
	}
	slice := func(name string, members ...string) *rosterv1.OrgTeamMemberSlice {
		return &rosterv1.OrgTeamMemberSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "org-a", Name: name, Labels: map[string]string{rosterv1.TeamLabel: "team-1"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: rosterv1.GroupVersion.String(), Kind: "OrgTeam", Name: "team-1", UID: "uid-1"}}},
			Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "team-1", Members: members},
		}
	}
	roundTrip := func(obj client.Object) client.Object {
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, data, obj)
	}
	a, b := roundTrip(user("u-a")).(*rosterv1.OrgUser), roundTrip(user("u-b")).(*rosterv1.OrgUser)
	s1, s2 := roundTrip(slice("s1", "u-a", "u-b")).(*rosterv1.OrgTeamMemberSlice), roundTrip(slice("s2", "u-b")).(*rosterv1.OrgTeamMemberSlice)
	labelKey := func(m map[string]string) string {
		for k := range m {
			return k
		}
		return ""
	}
	pairs := func() map[string][2]string {
		return map[string][2]string{
			"namespace":        {a.Namespace, b.Namespace},
			"apiVersion":       {a.APIVersion, b.APIVersion},
			"kind":             {a.Kind, b.Kind},
			"label key":        {labelKey(a.Labels), labelKey(b.Labels)},
			"label value":      {a.Labels[rosterv1.OrgLabel], b.Labels[rosterv1.OrgLabel]},
			"annotation key":   {labelKey(a.Annotations), labelKey(b.Annotations)},
			"finalizer":        {a.Finalizers[0], b.Finalizers[0]},
			"email type":       {a.Spec.Emails[0].Type, b.Spec.Emails[0].Type},
			"locale":           {a.Spec.Locale, b.Spec.Locale},
			"condition type":   {a.Status.Conditions[0].Type, b.Status.Conditions[0].Type},
			"condition status": {string(a.Status.Conditions[0].Status), string(b.Status.Conditions[0].Status)},
			"condition reason": {a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason},
			"condition msg":    {a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
			"slice team":       {s1.Spec.Team, s2.Spec.Team},
			"owner name":       {s1.OwnerReferences[0].Name, s2.OwnerReferences[0].Name},
			"owner uid":        {string(s1.OwnerReferences[0].UID), string(s2.OwnerReferences[0].UID)},
		}
	}
	for what, p := range pairs() {
		if same(p[0], p[1]) {
			t.Fatalf("%s: shared before the transform; the test decodes nothing apart", what)
		}
	}
	for _, o := range []client.Object{a, b, s1, s2} {
		if _, err := cachetrim.Transform(o); err != nil {
			t.Fatal(err)
		}
	}
	for what, p := range pairs() {
		if !same(p[0], p[1]) {
			t.Errorf("%s: %q and %q are two copies after the transform", what, p[0], p[1])
		}
	}
	if same(a.Spec.Name.FamilyName, b.Spec.Name.FamilyName) || same(s1.Spec.Members[1], s2.Spec.Members[0]) {
		t.Errorf("per-object strings should stay the object's own")
	}
	// Equal labels share one map; annotations maps and pointers stay each object's own.
	mapOf := func(m map[string]string) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }
	if mapOf(a.Labels) != mapOf(b.Labels) || mapOf(s1.Labels) != mapOf(s2.Labels) {
		t.Errorf("equal labels are two maps after the transform")
	}
	if mapOf(a.Labels) == mapOf(s1.Labels) {
		t.Errorf("a user and a slice with different labels share a map: %v", a.Labels)
	}
	if mapOf(a.Annotations) == mapOf(b.Annotations) || a.Spec.Emails[0].Primary == b.Spec.Emails[0].Primary {
		t.Errorf("an annotations map or a pointer is shared between objects")
	}
	if err := cachetrim.CheckShared(); err != nil {
		t.Errorf("nothing wrote, yet: %v", err)
	}
}

// TestLabelsSharedOnlySmallAndEqual: label sets that differ in one value, or are too big,
// keep maps of their own; the transform keeps every label.
func TestLabelsSharedOnlySmallAndEqual(t *testing.T) {
	obj := func(labels map[string]string) *rosterv1.OrgTeam {
		return &rosterv1.OrgTeam{ObjectMeta: metav1.ObjectMeta{Namespace: "org-l", Name: "t", Labels: labels}}
	}
	mapOf := func(o *rosterv1.OrgTeam) unsafe.Pointer { return reflect.ValueOf(o.Labels).UnsafePointer() }
	big := func() map[string]string {
		return map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
	}
	x, y := obj(map[string]string{"a": "1", "b": "2"}), obj(map[string]string{"a": "1", "b": "3"})
	// Encodings that a naive concatenation would confuse: {"ab": "c"} and {"a": "bc"}.
	p, q := obj(map[string]string{"ab": "c"}), obj(map[string]string{"a": "bc"})
	b1, b2 := obj(big()), obj(big())
	for _, o := range []*rosterv1.OrgTeam{x, y, p, q, b1, b2} {
		if _, err := cachetrim.Transform(o); err != nil {
			t.Fatal(err)
		}
	}
	if mapOf(x) == mapOf(y) || mapOf(p) == mapOf(q) || mapOf(b1) == mapOf(b2) {
		t.Errorf("distinct or big label sets share a map")
	}
	if x.Labels["b"] != "2" || y.Labels["b"] != "3" || p.Labels["ab"] != "c" || q.Labels["a"] != "bc" || !reflect.DeepEqual(b1.Labels, big()) {
		t.Errorf("labels changed: %v %v %v %v %v", x.Labels, y.Labels, p.Labels, q.Labels, b1.Labels)
	}
}

// TestTransformOtherObjects: what the transform does not know passes through.
func TestTransformOtherObjects(t *testing.T) {
	for _, in := range []any{nil, "x", runtime.Object(nil)} {
		out, err := cachetrim.Transform(in)
		if err != nil || out != in {
			t.Errorf("Transform(%v) = %v, %v", in, out, err)
		}
	}
}
