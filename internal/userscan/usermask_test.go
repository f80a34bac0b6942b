package userscan

import (
	"reflect"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

// TestUserMaskBuildsTheSameKeys: a filter's match decodes only userMask(keys) of a cached
// user; the document it builds of those keys is the one the whole user gives.
func TestUserMaskBuildsTheSameKeys(t *testing.T) {
	yes, no := true, false
	u := &rosterv1.OrgUser{
		ObjectMeta: metav1.ObjectMeta{Name: "u-0123", Namespace: "org", UID: "8f1f7a3e-1c2d-4e5f-9a8b-7c6d5e4f3a2b",
			Generation: 3, ResourceVersion: "42", CreationTimestamp: metav1.NewTime(time.Unix(1_800_000_000, 0)),
			Annotations: map[string]string{rosterv1.LastModifiedAnnotation: "2027-01-15T08:00:00.5Z"}},
		Spec: rosterv1.OrgUserSpec{
			UserName: "ada@example.com", ExternalID: "00u1", Active: &no, DisplayName: "Ada", Title: "Countess",
			Name:         &rosterv1.Name{GivenName: "Ada", FamilyName: "Lovelace", Formatted: "Ada Lovelace"},
			Emails:       []rosterv1.MultiValued{{Value: "ada@example.com", Type: "work", Primary: &yes}, {Value: "a@home", Primary: &no}},
			PhoneNumbers: []rosterv1.MultiValued{{Value: "+1 555", Type: "mobile"}},
			Addresses:    []rosterv1.Address{{Locality: "London", Country: "GB", Primary: &yes}},
			Enterprise:   &rosterv1.EnterpriseUser{Department: "Maths", Manager: &rosterv1.Manager{Value: "u-9"}},
			Extensions:   rosterv1.ExtensionValues{"urn:example:ext": apiextensionsv1.JSON{Raw: []byte(`{"level":3}`)}},
		},
	}
	meta := func(u *rosterv1.OrgUser) func() document.Meta {
		return func() document.Meta {
			return document.Meta{ResourceType: "User", Version: directory.UserVersion(u), Created: u.CreationTimestamp.Time, LastModified: directory.LastModified(u)}
		}
	}
	cached := slimuser.New(u)
	full := cached.OrgUser()
	for _, keys := range [][]string{
		{"userName"}, {"name"}, {"emails"}, {"id"}, {"meta"}, {schema.EnterpriseUserSchema}, {"title", "addresses"},
		{"active", "phoneNumbers"}, {"schemas"}, {"enterprise"}, {"extensions"}, {"urn:example:ext"}, {"displayName", "id", "externalId"},
	} {
		var partial rosterv1.OrgUser
		cached.DecodeInto(&partial, userMask(keys))
		got := document.UserKeys(&partial, meta(&partial), keys)
		want := document.UserKeys(full, meta(full), keys)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("keys %v: from the partial decode %v, from the whole user %v", keys, got, want)
		}
		if len(want) == 0 && keys[0] != "extensions" && keys[0] != "urn:example:ext" && keys[0] != "enterprise" {
			t.Errorf("keys %v: the document is empty, the test proves nothing", keys)
		}
	}
}
