package schema

import "strings"

// DataType is an attribute data type (RFC 7643 §2.3).
type DataType string

// The data types of RFC 7643 §2.3.
const (
	TypeString    DataType = "string"
	TypeBoolean   DataType = "boolean"
	TypeDecimal   DataType = "decimal"
	TypeInteger   DataType = "integer"
	TypeDateTime  DataType = "dateTime"
	TypeReference DataType = "reference"
	TypeComplex   DataType = "complex"
	TypeBinary    DataType = "binary"
)

// Mutability says whether and how a client may change an attribute (RFC 7643 §7).
type Mutability string

// The mutability values of RFC 7643 §7.
const (
	ReadOnly  Mutability = "readOnly"
	ReadWrite Mutability = "readWrite"
	Immutable Mutability = "immutable"
	WriteOnly Mutability = "writeOnly"
)

// Returned says when an attribute is returned in a response (RFC 7643 §7).
type Returned string

// The returned values of RFC 7643 §7.
const (
	ReturnedAlways  Returned = "always"
	ReturnedNever   Returned = "never"
	ReturnedDefault Returned = "default"
	ReturnedRequest Returned = "request"
)

// Uniqueness says how the service provider enforces uniqueness of a value (RFC 7643 §7).
type Uniqueness string

// The uniqueness values of RFC 7643 §7.
const (
	UniqueNone   Uniqueness = "none"
	UniqueServer Uniqueness = "server"
	UniqueGlobal Uniqueness = "global"
)

// Attribute is an attribute definition (RFC 7643 §7). Its JSON form is the one the /Schemas
// endpoint serves.
type Attribute struct {
	Name            string      `json:"name"`
	Type            DataType    `json:"type"`
	SubAttributes   []Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool        `json:"multiValued"`
	Description     string      `json:"description"`
	Required        bool        `json:"required"`
	CanonicalValues []string    `json:"canonicalValues,omitempty"`
	CaseExact       bool        `json:"caseExact"`
	Mutability      Mutability  `json:"mutability"`
	Returned        Returned    `json:"returned"`
	Uniqueness      Uniqueness  `json:"uniqueness"`
	ReferenceTypes  []string    `json:"referenceTypes,omitempty"`
	// Discarded: a client's value is dropped, never stored (password).
	Discarded bool `json:"-"`
	// StrictCanonical: a value outside CanonicalValues is 400 invalidValue. Custom attributes
	// declare their canonical values as the only ones allowed; the core ones (emails.type …)
	// are suggestions, as RFC 7643 §2.3.1 reads them, and IdPs send others.
	StrictCanonical bool `json:"-"`
}

// Sub returns the sub-attribute called name (matched case-insensitively), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	if a == nil {
		return nil
	}
	for i := range a.SubAttributes {
		if strings.EqualFold(a.SubAttributes[i].Name, name) {
			return &a.SubAttributes[i]
		}
	}
	return nil
}

// Schema is a schema definition (RFC 7643 §7) as served by the /Schemas endpoint; the server
// adds "schemas" and "meta" when it renders one.
type Schema struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []Attribute `json:"attributes"`
}

// Attribute returns the attribute called name (matched case-insensitively), or nil.
func (s *Schema) Attribute(name string) *Attribute {
	if s == nil {
		return nil
	}
	for i := range s.Attributes {
		if strings.EqualFold(s.Attributes[i].Name, name) {
			return &s.Attributes[i]
		}
	}
	return nil
}

// The builders below keep the definitions in user.go, group.go and enterprise.go short. Each
// returns a modified copy.

func newAttr(name string, t DataType, desc string) Attribute {
	return Attribute{
		Name: name, Type: t, Description: desc,
		Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone,
	}
}

func str(name, desc string) Attribute { return newAttr(name, TypeString, desc) }

func boolean(name, desc string) Attribute { return newAttr(name, TypeBoolean, desc) }

func dateTime(name, desc string) Attribute { return newAttr(name, TypeDateTime, desc) }

func ref(name, desc string, types ...string) Attribute {
	a := newAttr(name, TypeReference, desc)
	a.ReferenceTypes = types
	return a
}

func complexAttr(name, desc string, subs ...Attribute) Attribute {
	a := newAttr(name, TypeComplex, desc)
	a.SubAttributes = subs
	return a
}

func (a Attribute) multi() Attribute { a.MultiValued = true; return a }

func (a Attribute) exact() Attribute { a.CaseExact = true; return a }

func (a Attribute) req() Attribute { a.Required = true; return a }

func (a Attribute) mut(m Mutability) Attribute { a.Mutability = m; return a }

func (a Attribute) ret(r Returned) Attribute { a.Returned = r; return a }

func (a Attribute) uniq(u Uniqueness) Attribute { a.Uniqueness = u; return a }

func (a Attribute) discarded() Attribute { a.Discarded = true; return a }

func (a Attribute) canon(values ...string) Attribute { a.CanonicalValues = values; return a }

// readOnlyAll marks a complex attribute and all its sub-attributes readOnly.
func (a Attribute) readOnlyAll() Attribute {
	a.Mutability = ReadOnly
	subs := make([]Attribute, len(a.SubAttributes))
	for i, s := range a.SubAttributes {
		subs[i] = s.mut(ReadOnly)
	}
	a.SubAttributes = subs
	return a
}

// multiValuedStd is the value/display/type/primary shape shared by emails, phoneNumbers, ims,
// photos, entitlements, roles and x509Certificates (RFC 7643 §4.1.2).
func multiValuedStd(name, desc string, value Attribute, types ...string) Attribute {
	return complexAttr(name, desc,
		value,
		str("display", "A human-readable name, primarily used for display purposes."),
		str("type", "A label indicating the attribute's function.").canon(types...),
		boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
	).multi()
}
