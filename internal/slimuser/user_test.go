package slimuser

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

var timeType = reflect.TypeFor[time.Time]()

// fill sets every field of v, recursively, to a value of its own: strings name their path
// (some repeated, so that the dictionary is exercised), numbers count, times are Local as
// metav1.Time's decoder makes them, slices and maps hold two entries.
func fill(v reflect.Value, path string, n *int) {
	*n++
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Unix(1_700_000_000+int64(*n), int64(*n)*1000)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path, *n%7))
	case reflect.Bool:
		v.SetBool(*n%2 == 0)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n) * 1001)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path, n)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // raw JSON
			v.SetBytes([]byte(fmt.Sprintf(`{"v":%d}`, *n)))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, fmt.Sprintf("%s.key%d", path, i), n)
			fill(e, fmt.Sprintf("%s.value%d", path, i), n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "ManagedFields" { // stripped by the cache (cachetrim) before it encodes
				continue
			}
			fill(v.Field(i), path+"."+f.Name, n)
		}
	default:
		panic(fmt.Sprintf("fill: %s of kind %s", path, v.Kind()))
	}
}

// zeroFields lists the fields of v that are zero (ManagedFields aside).
func zeroFields(v reflect.Value, path string) []string {
	if v.IsZero() {
		return []string{path}
	}
	var out []string
	switch v.Kind() {
	case reflect.Pointer:
		if v.Elem().Kind() == reflect.Bool {
			return nil // a pointer to false is set
		}
		return zeroFields(v.Elem(), path)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				out = append(out, zeroFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			out = append(out, zeroFields(it.Value(), path+"."+it.Key().String())...)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return nil
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.Name != "ManagedFields" && f.IsExported() {
				out = append(out, zeroFields(v.Field(i), path+"."+f.Name)...)
			}
		}
	}
	return out
}

func filledUser(t *testing.T) *rosterv1.OrgUser {
	t.Helper()
	u := &rosterv1.OrgUser{}
	n := 0
	fill(reflect.ValueOf(u).Elem(), "u", &n)
	if zero := zeroFields(reflect.ValueOf(u).Elem(), "u"); len(zero) > 0 {
		t.Fatalf("fill left fields zero: %v", zero)
	}
	return u
}

// TestRoundTripEveryField: a user with every field of OrgUser set (found by reflection, so a
// field added to the API fails here until the codec encodes it) decodes to a deep-equal copy.
func TestRoundTripEveryField(t *testing.T) {
	u := filledUser(t)
	want := u.DeepCopy()
	s := New(u)
	got, ok := s.DeepCopyObject().(*rosterv1.OrgUser)
	if !ok {
		t.Fatalf("DeepCopyObject returned %T", s.DeepCopyObject())
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		t.Fatalf("round trip differs:\nwant %s\ngot  %s", a, b)
	}
	// The accessors read the same values without a decode.
	for what, p := range map[string][2]any{
		"name": {s.GetName(), want.Name}, "namespace": {s.GetNamespace(), want.Namespace},
		"resourceVersion": {s.GetResourceVersion(), want.ResourceVersion}, "generation": {s.GetGeneration(), want.Generation},
		"uid": {s.GetUID(), want.UID}, "userName": {s.UserName(), want.Spec.UserName},
		"displayName": {s.DisplayName(), want.Spec.DisplayName}, "externalId": {s.ExternalID(), want.Spec.ExternalID},
		"active": {s.Active(), want.Spec.IsActive()}, "created": {s.GetCreationTimestamp(), want.CreationTimestamp},
		"deletion": {*s.GetDeletionTimestamp(), *want.DeletionTimestamp}, "finalizers": {s.GetFinalizers(), want.Finalizers},
		"annotations": {s.GetAnnotations(), want.Annotations}, "owners": {s.GetOwnerReferences(), want.OwnerReferences},
		"grace":  {*s.GetDeletionGracePeriodSeconds(), *want.DeletionGracePeriodSeconds},
		"labels": {s.GetLabels(), want.Labels}, "gvk": {s.GroupVersionKind(), want.GroupVersionKind()},
		"generateName": {s.GetGenerateName(), want.GenerateName}, "selfLink": {s.GetSelfLink(), want.SelfLink},
	} {
		if !reflect.DeepEqual(p[0], p[1]) {
			t.Errorf("%s: %v, want %v", what, p[0], p[1])
		}
	}
	var emails []string
	for e := range s.Emails() {
		emails = append(emails, e)
	}
	if len(emails) != 2 || emails[0] != want.Spec.Emails[0].Value || emails[1] != want.Spec.Emails[1].Value {
		t.Errorf("Emails() = %v, want those of %v", emails, want.Spec.Emails)
	}
	c, ok := s.Condition(want.Status.Conditions[1].Type)
	if !ok || !reflect.DeepEqual(c, want.Status.Conditions[1]) {
		t.Errorf("Condition(%q) = %v, %t, want %v", want.Status.Conditions[1].Type, c, ok, want.Status.Conditions[1])
	}
	if _, ok := s.Condition("Nope"); ok {
		t.Error("Condition(Nope) found one")
	}
}

// TestDecodeIsIndependent: a decoded user shares nothing changeable with the cached one: a
// reader that changes its copy (every slice, map and pointer) leaves the next copy as it was.
func TestDecodeIsIndependent(t *testing.T) {
	s := New(filledUser(t))
	a, b := s.OrgUser(), s.OrgUser()
	var n int
	fill(reflect.ValueOf(a).Elem(), "changed", &n) // replaces values; below, in-place writes
	a2 := s.OrgUser()
	a2.Labels["x"] = "y"
	a2.Annotations["x"] = "y"
	a2.Finalizers[0] = "changed"
	a2.Spec.Emails[0].Value = "changed"
	*a2.Spec.Emails[0].Primary = !*a2.Spec.Emails[0].Primary
	*a2.Spec.Active = !*a2.Spec.Active
	a2.Spec.Name.GivenName = "changed"
	for k := range a2.Spec.Extensions {
		a2.Spec.Extensions[k].Raw[0] = 'X'
	}
	a2.Status.Conditions[0].Reason = "changed"
	a2.DeletionTimestamp.Time = time.Unix(0, 0)
	a2.OwnerReferences[0].Name = "changed"
	if c := s.OrgUser(); !reflect.DeepEqual(c, b) {
		t.Errorf("a change to a decoded copy reached the cached user")
	}
}

// TestNilAndEmpty: absent and empty slices and maps, and absent pointers, stay apart.
func TestNilAndEmpty(t *testing.T) {
	f := false
	for name, u := range map[string]*rosterv1.OrgUser{
		"zero": {},
		"empty": {Spec: rosterv1.OrgUserSpec{Emails: []rosterv1.MultiValued{}, Extensions: rosterv1.ExtensionValues{},
			Name: &rosterv1.Name{}, Enterprise: &rosterv1.EnterpriseUser{Manager: &rosterv1.Manager{}}, Active: &f}},
		"empty meta":      {},
		"one empty email": {Spec: rosterv1.OrgUserSpec{UserName: "a", Emails: []rosterv1.MultiValued{{}}}},
	} {
		if name == "empty meta" {
			u.Labels, u.Annotations, u.Finalizers = map[string]string{}, map[string]string{}, []string{}
			u.Status.Conditions = []metav1.Condition{}
		}
		got := New(u).OrgUser()
		if !reflect.DeepEqual(got, u) {
			t.Errorf("%s: got %#v, want %#v", name, got, u)
		}
	}
}

// TestReadOnly: every setter of a cached user panics.
func TestReadOnly(t *testing.T) {
	s := New(filledUser(t))
	var o client.Object = s
	for name, set := range map[string]func(){
		"SetName": func() { o.SetName("x") }, "SetLabels": func() { o.SetLabels(nil) },
		"SetFinalizers":       func() { o.SetFinalizers(nil) },
		"SetGroupVersionKind": func() { o.GetObjectKind().SetGroupVersionKind(rosterv1.GroupVersion.WithKind("X")) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "read-only") {
					t.Errorf("%s: recovered %v, want a read-only panic", name, r)
				}
			}()
			set()
		}()
	}
	// Setting the kind it has is no change.
	o.GetObjectKind().SetGroupVersionKind(s.GroupVersionKind())
	var _ runtime.Object = s
}

// TestPartialDecode: DecodeInto with a mask decodes the fields asked for and nothing else.
func TestPartialDecode(t *testing.T) {
	u := filledUser(t)
	s := New(u)
	m, ok := SpecMask("userName", "EMAILS")
	if !ok {
		t.Fatal("SpecMask refused spec attributes")
	}
	var got rosterv1.OrgUser
	s.DecodeInto(&got, m)
	want := rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: u.Spec.UserName, Emails: u.Spec.Emails}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("partial decode: %+v, want %+v", got, want)
	}
	if _, ok := SpecMask("userName", "groups"); ok {
		t.Error("SpecMask took groups, which is no spec attribute")
	}
	var meta rosterv1.OrgUser
	s.DecodeInto(&meta, Meta)
	if !reflect.DeepEqual(meta.ObjectMeta, u.ObjectMeta) || !reflect.DeepEqual(meta.TypeMeta, u.TypeMeta) || meta.Spec.UserName != "" {
		t.Errorf("Meta decode: %+v", meta)
	}
}

// TestJSONThroughTransform: a user as the informer decodes it (JSON), through the cache's
// transform, copies back to the decoded object, and the compact form is smaller.
func TestJSONThroughTransform(t *testing.T) {
	raw := []byte(`{"apiVersion":"scim.roster.dev/v1alpha1","kind":"OrgUser","metadata":{"name":"u-0123456789abcdef0123456789abcdef",
	"namespace":"org-acme","uid":"8f1f7a3e-1c2d-4e5f-9a8b-7c6d5e4f3a2b","resourceVersion":"123456","generation":1,
	"creationTimestamp":"2026-01-02T03:04:05Z","labels":{"scim.roster.dev/org":"acme"},"finalizers":["scim.roster.dev/store"],
	"annotations":{"scim.roster.dev/last-modified":"2026-01-02T03:04:05.123456Z"}},
	"spec":{"userName":"ada.lovelace@example.com","externalId":"00u1abcdefghijklmnop","active":true,
	"name":{"givenName":"Ada","familyName":"Lovelace"},"displayName":"Ada Lovelace","locale":"en-US",
	"emails":[{"value":"ada.lovelace@example.com","type":"work","primary":true}]},
	"status":{"observedGeneration":1,"conditions":[{"type":"Synced","status":"True","observedGeneration":1,
	"lastTransitionTime":"2026-01-02T03:04:06Z","reason":"Synced","message":"the user is in the identity store"},
	{"type":"Ready","status":"True","observedGeneration":1,"lastTransitionTime":"2026-01-02T03:04:06Z","reason":"Synced","message":"ready"}]}}`)
	var u rosterv1.OrgUser
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatal(err)
	}
	want := u.DeepCopy()
	out, err := Transform(&u)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := out.(*User)
	if !ok {
		t.Fatalf("Transform returned %T", out)
	}
	if again, _ := Transform(s); again != s {
		t.Error("Transform did not pass a compact user through")
	}
	if got := s.DeepCopyObject(); !reflect.DeepEqual(got, want) {
		t.Errorf("copy of the cached user differs:\n got %+v\nwant %+v", got, want)
	}
	if len(s.data) > 256 {
		t.Errorf("the encoding of a typical user takes %d bytes", len(s.data))
	}
	t.Logf("typical user: %d bytes of JSON, %d bytes encoded", len(raw), len(s.data))
}

// FuzzDecode: the decoder takes any bytes without panicking, and what it decodes encodes and
// decodes again to the same user.
func FuzzDecode(f *testing.F) {
	f.Add(New(filledUserF()).data)
	f.Add(New(&rosterv1.OrgUser{}).data)
	f.Add("\x03\x04ab\x00")
	f.Fuzz(func(t *testing.T, data string) {
		u, err := decodeString(data, nil)
		if err != nil {
			return
		}
		again, err := decodeString(New(u).data, u.Labels)
		if err != nil {
			t.Fatalf("re-encoding of a decoded user does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, u) {
			t.Fatalf("round trip differs:\n%+v\n%+v", u, again)
		}
	})
}

func filledUserF() *rosterv1.OrgUser {
	u := &rosterv1.OrgUser{}
	n := 0
	fill(reflect.ValueOf(u).Elem(), "u", &n)
	return u
}

// TestDecodeMutations is FuzzDecode's property over seeded random corruptions of a full
// encoding (byte changes and truncations), run with every `go test`.
func TestDecodeMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seed := New(filledUser(t)).data
	decoded := 0
	for i := range 20_000 {
		b := []byte(seed)
		for range 1 + i%5 {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		if i%3 == 0 {
			b = b[:r.IntN(len(b))]
		}
		u, err := decodeString(string(b), nil)
		if err != nil {
			continue
		}
		decoded++
		again, err := decodeString(New(u).data, u.Labels)
		if err != nil {
			t.Fatalf("re-encoding of a decoded user does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, u) {
			t.Fatalf("round trip differs:\n%+v\n%+v", u, again)
		}
	}
	if decoded == 0 {
		t.Error("no corrupted encoding decoded: the round trip was never checked")
	}
}

// TestFailureMessagesStayOutOfTheDictionary: a condition that holds shares its message
// through the dictionary; a failed one's message (often naming one user's own error) is kept
// inline unless the dictionary has it already, so a wave of distinct errors cannot fill the
// bounded dictionary. Every form decodes back.
func TestFailureMessagesStayOutOfTheDictionary(t *testing.T) {
	dict.mu.Lock()
	full := dict.n >= dictMax-8
	dict.mu.Unlock()
	if full {
		t.Skip("the dictionary is full: nothing can be added to it")
	}
	user := func(status metav1.ConditionStatus, msg string) *rosterv1.OrgUser {
		return &rosterv1.OrgUser{
			ObjectMeta: metav1.ObjectMeta{Name: "u", Namespace: "ns"},
			Spec:       rosterv1.OrgUserSpec{UserName: "u@example.com"},
			Status: rosterv1.OrgUserStatus{Conditions: []metav1.Condition{{
				Type: rosterv1.ConditionSynced, Status: status, Reason: "R", Message: msg,
			}}},
		}
	}
	dictSize := func() uint32 {
		dict.mu.Lock()
		defer dict.mu.Unlock()
		return dict.n
	}
	_ = New(user(metav1.ConditionFalse, "warm-up: the shared symbols (namespace, type, status, reason)"))
	for i := range 3 {
		msg := fmt.Sprintf("store: users_email_key conflict for user-%d (TestFailureMessages)", i)
		before := dictSize()
		in := user(metav1.ConditionFalse, msg)
		out := New(in).OrgUser()
		if got := dictSize(); got != before {
			t.Fatalf("a failure's message added %d dictionary entries", got-before)
		}
		if got := out.Status.Conditions[0].Message; got != msg {
			t.Fatalf("failure message decoded as %q, want %q", got, msg)
		}
	}
	ok := "in the identity store (TestFailureMessages)"
	_ = New(user(metav1.ConditionTrue, ok))
	after := dictSize()
	a, b := New(user(metav1.ConditionTrue, ok)), New(user(metav1.ConditionTrue, ok))
	if dictSize() != after {
		t.Fatal("a success message already in the dictionary was added again")
	}
	dict.mu.Lock()
	_, found := dict.ids[ok]
	dict.mu.Unlock()
	if !found {
		t.Fatal("a success message is not shared through the dictionary")
	}
	if a.OrgUser().Status.Conditions[0].Message != ok || b.OrgUser().Status.Conditions[0].Message != ok {
		t.Fatal("a shared success message does not decode back")
	}
	// A failure whose message the dictionary has already (an outage's text that every user
	// shares) is written by reference: shorter than the same failure with a message of the
	// same length that the dictionary lacks.
	unshared := strings.Repeat("x", len(ok))
	ref, inline := New(user(metav1.ConditionFalse, ok)), New(user(metav1.ConditionFalse, unshared))
	if len(ref.data) >= len(inline.data) {
		t.Fatalf("a failure with a dictionary message takes %d bytes, one with an unshared message %d", len(ref.data), len(inline.data))
	}
	if got := ref.OrgUser().Status.Conditions[0].Message; got != ok {
		t.Fatalf("failure message by reference decoded as %q", got)
	}
}
