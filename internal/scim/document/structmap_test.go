package document

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// fillRandom sets v's fields at random: empty or not, nil or not, so that every omitempty case and
// every nesting of the type is exercised.
func fillRandom(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		if r.IntN(3) > 0 {
			v.SetString(fmt.Sprintf("s<%d>&\u00e9", r.IntN(100)))
		}
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.IntN(3)))
	case reflect.Pointer:
		if r.IntN(3) > 0 && depth < 5 {
			v.Set(reflect.New(v.Type().Elem()))
			fillRandom(r, v.Elem(), depth+1)
		}
	case reflect.Slice:
		switch r.IntN(3) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + r.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fillRandom(r, v.Index(i), depth+1)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(r, v.Field(i), depth+1)
			}
		}
	}
}

// randomExtensions returns custom extension values at random: none, empty, or a few schemas
// with values of every JSON kind (fillRandom leaves maps nil).
func randomExtensions(r *rand.Rand) rosterv1.ExtensionValues {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return rosterv1.ExtensionValues{}
	}
	ext := rosterv1.ExtensionValues{}
	for i := range 1 + r.IntN(2) {
		raw := fmt.Sprintf(`{"badge":"s<%d>&\u00e9","level":%d,"remote":%t,"tags":["a","b"],"site":{"code":"x%d"}}`,
			r.IntN(100), r.IntN(5), r.IntN(2) == 0, i)
		ext[fmt.Sprintf("urn:example:params:scim:schemas:extension:custom%d:2.0:User", i)] = apiextensionsv1.JSON{Raw: []byte(raw)}
	}
	return ext
}

// TestStructMapEqualsToMap: the fast conversion gives what the JSON round trip gives.
func TestStructMapEqualsToMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	if !plain(reflect.TypeFor[rosterv1.OrgUserSpec]()) {
		t.Fatal("OrgUserSpec is not converted without JSON: the fast path is never taken")
	}
	for i := range 2000 {
		var spec rosterv1.OrgUserSpec
		fillRandom(r, reflect.ValueOf(&spec).Elem(), 0)
		spec.Extensions = randomExtensions(r)
		if got, want := structMap(&spec), ToMap(&spec); !reflect.DeepEqual(got, want) {
			t.Fatalf("spec %d: structMap = %#v\nToMap = %#v", i, got, want)
		}
	}
	if got := structMap(&rosterv1.OrgUserSpec{}); !reflect.DeepEqual(got, ToMap(&rosterv1.OrgUserSpec{})) {
		t.Fatalf("empty spec: %#v", got)
	}
}
