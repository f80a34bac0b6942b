package document

import (
	"encoding/json"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// userJSON is the SCIM User document of an OrgUserSpec as one struct, so that a response
// without attributes/excludedAttributes encodes in one pass: User builds a generic map of the
// spec (structMap), the projection copies it and the encoder sorts its keys — a third of what
// a POST /Users added to the apiserver's create on this machine's profile (measured when User
// still took a JSON round trip). Lists and filters build maps (User, UserKeys), responses of
// one user encode through this struct.
type userJSON struct {
	Schemas []string `json:"schemas"`
	ID      string   `json:"id"`
	// The spec's fields at the top level, its enterprise field moved under the URN below
	// (Enterprise is nil in this copy).
	rosterv1.OrgUserSpec
	EnterpriseExt *rosterv1.EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Groups        []any                    `json:"groups,omitempty"`
	Meta          metaJSON                 `json:"meta"`
}

// metaJSON is Meta.Map as a struct.
type metaJSON struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
	Location     string `json:"location"`
	Version      string `json:"version"`
}

// MarshalUser encodes the full SCIM User document of u — what User(u, meta), with groups set
// when there are any, projected with no attributes or excludedAttributes, encodes to — in one
// pass. TestMarshalUserMatchesProjectedDocument keeps the two equal for every spec field but
// Extensions, which it leaves out: render a user with extensions through User and Project.
func MarshalUser(u *rosterv1.OrgUser, meta Meta, groups []any) ([]byte, error) {
	m := meta.Map()
	doc := userJSON{
		Schemas:       []string{schema.UserSchema},
		ID:            u.Name,
		OrgUserSpec:   u.Spec,
		EnterpriseExt: u.Spec.Enterprise,
		Groups:        groups,
		Meta: metaJSON{
			ResourceType: m["resourceType"].(string), Created: m["created"].(string),
			LastModified: m["lastModified"].(string), Location: m["location"].(string), Version: m["version"].(string),
		},
	}
	doc.OrgUserSpec.Enterprise = nil
	// Custom extension values need the organization's schema to be rendered (User and
	// schema.Project do it); callers take that path for a user that has any.
	doc.OrgUserSpec.Extensions = nil
	if doc.EnterpriseExt != nil {
		doc.Schemas = append(doc.Schemas, schema.EnterpriseUserSchema)
	}
	return json.Marshal(&doc)
}
