package document

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

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

// TestStructMapEqualsToMap: the fast conversion gives what the JSON round trip gives.
func TestStructMapEqualsToMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	if !plain(reflect.TypeFor[rosterv1.OrgUserSpec]()) {
		t.Fatal("OrgUserSpec is not converted without JSON: the fast path is never taken")
	}
	for i := range 2000 {
		var spec rosterv1.OrgUserSpec
		fillRandom(r, reflect.ValueOf(&spec).Elem(), 0)
		if got, want := structMap(&spec), ToMap(&spec); !reflect.DeepEqual(got, want) {
			t.Fatalf("spec %d: structMap = %#v\nToMap = %#v", i, got, want)
		}
	}
	if got := structMap(&rosterv1.OrgUserSpec{}); !reflect.DeepEqual(got, ToMap(&rosterv1.OrgUserSpec{})) {
		t.Fatalf("empty spec: %#v", got)
	}
}
