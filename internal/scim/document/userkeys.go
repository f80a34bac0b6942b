package document

import (
	"reflect"
	"strings"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
)

var userSpecT = reflect.TypeFor[rosterv1.OrgUserSpec]()

// UserKeys is User(u, meta()) holding only the top-level keys named (canonical attribute
// names, or the enterprise extension's URN: filter.Keys): what a filter reads of a user,
// without building the rest. A full-scan filter over 100,000 users builds one per user, and
// the whole document cost most of such a scan. meta is called only when "meta" is named; a
// key User has no fast path for builds the whole document and keeps those keys.
func UserKeys(u *rosterv1.OrgUser, meta func() Meta, keys []string) map[string]any {
	if !plain(userSpecT) {
		return pick(User(u, meta()), keys)
	}
	doc := make(map[string]any, len(keys))
	spec := reflect.ValueOf(&u.Spec).Elem()
	fields := fieldsOf(userSpecT)
	for _, k := range keys {
		switch {
		case k == "id":
			doc[k] = u.Name
		case k == "meta":
			doc[k] = meta().Map()
		case strings.EqualFold(k, schema.EnterpriseUserSchema):
			if v, ok := specField(spec, fields, enterpriseKey); ok {
				doc[schema.EnterpriseUserSchema] = v
			}
		default:
			i := fieldIndex(fields, k)
			if i < 0 || fields[i].name == enterpriseKey {
				return pick(User(u, meta()), keys) // schemas, or a key the spec does not hold
			}
			if v, ok := fieldValue(spec, fields[i]); ok {
				doc[fields[i].name] = v
			}
		}
	}
	return doc
}

// fieldIndex returns the position in fields of the field named name (ignoring case), or -1.
func fieldIndex(fields []field, name string) int {
	for i, f := range fields {
		if strings.EqualFold(f.name, name) {
			return i
		}
	}
	return -1
}

// specField is the rendered field name of spec, and false when it is left out.
func specField(spec reflect.Value, fields []field, name string) (any, bool) {
	if i := fieldIndex(fields, name); i >= 0 {
		return fieldValue(spec, fields[i])
	}
	return nil, false
}

// pick returns the entries of doc whose keys are named (ignoring case).
func pick(doc map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for k, v := range doc {
		for _, want := range keys {
			if strings.EqualFold(k, want) {
				out[k] = v
			}
		}
	}
	return out
}
