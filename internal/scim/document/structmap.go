package document

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// structMap is ToMap without the JSON round trip, for the API types a list builds a document
// of per candidate: a filter that scans 100,000 users builds 100,000 documents, and
// marshalling then unmarshalling each one made such a scan take seconds. It gives exactly what
// ToMap gives (a test compares them) for structs of strings, bools, numbers, pointers, slices
// and nested structs with encoding/json tags. A field of any other type (a map, an interface,
// a custom marshaler: the spec's custom extension values) takes the round trip alone, and
// only when it is not empty; a struct with embedded fields or a marshaler of its own goes
// through ToMap whole.
func structMap(v any) map[string]any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return map[string]any{}
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || !plain(rv.Type()) {
		return ToMap(v)
	}
	return structValue(rv)
}

// field is how encoding/json renders one struct field.
type field struct {
	index     int
	name      string
	omitEmpty bool
	// viaJSON: the field's type is not plain; its value takes a JSON round trip.
	viaJSON bool
}

var (
	fieldsMu    sync.RWMutex
	fieldsCache = map[reflect.Type][]field{}
	plainCache  = map[reflect.Type]bool{}
	marshalerT  = reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()
	textT       = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
)

// plain reports whether structValue renders t as encoding/json would.
func plain(t reflect.Type) bool {
	fieldsMu.RLock()
	ok, known := plainCache[t]
	fieldsMu.RUnlock()
	if known {
		return ok
	}
	ok = plainType(t, map[reflect.Type]bool{})
	fieldsMu.Lock()
	plainCache[t] = ok
	fieldsMu.Unlock()
	return ok
}

func plainType(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t.Implements(marshalerT) || t.Implements(textT) || reflect.PointerTo(t).Implements(marshalerT) || reflect.PointerTo(t).Implements(textT) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return true
	case reflect.Pointer, reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && plainType(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return true
		}
		seen[t] = true
		for i := range t.NumField() {
			if t.Field(i).Anonymous {
				return false
			}
		}
		return true // a field that is not plain is rendered by itself (field.viaJSON)
	}
	return false
}

func fieldsOf(t reflect.Type) []field {
	fieldsMu.RLock()
	fs, ok := fieldsCache[t]
	fieldsMu.RUnlock()
	if ok {
		return fs
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fs = append(fs, field{index: i, name: name, omitEmpty: strings.Contains(","+opts+",", ",omitempty,"),
			viaJSON: !plainType(f.Type, map[reflect.Type]bool{})})
	}
	fieldsMu.Lock()
	fieldsCache[t] = fs
	fieldsMu.Unlock()
	return fs
}

func structValue(rv reflect.Value) map[string]any {
	fs := fieldsOf(rv.Type())
	out := make(map[string]any, len(fs))
	for _, f := range fs {
		if v, ok := fieldValue(rv, f); ok {
			out[f.name] = v
		}
	}
	return out
}

// fieldValue renders field f of the struct rv, and false when encoding/json leaves it out.
func fieldValue(rv reflect.Value, f field) (any, bool) {
	fv := rv.Field(f.index)
	if f.omitEmpty && fv.IsZero() && fv.Kind() != reflect.Struct {
		return nil, false
	}
	if f.omitEmpty && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
		return nil, false
	}
	if f.viaJSON {
		return jsonValue(fv.Interface()), true
	}
	return value(fv), true
}

// value renders v as a JSON round trip would: numbers as float64, structs as maps.
func value(v reflect.Value) any {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int32, reflect.Int64:
		return float64(v.Int())
	case reflect.Float64:
		return v.Float()
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return value(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = value(v.Index(i))
		}
		return out
	case reflect.Struct:
		return structValue(v)
	}
	return nil // not reached: plain admits no other kind
}

// jsonValue renders v as encoding/json then decoding into an interface would.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // API types always marshal, as in ToMap.
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
