package patch

import (
	"reflect"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func TestSplitMembers(t *testing.T) {
	tests := []struct {
		name    string
		ops     string
		members []MemberOp
		rest    string // the remaining operations, as a PatchOp Operations list
	}{
		{
			name:    "Okta add with display",
			ops:     `{"op":"add","path":"members","value":[{"value":"u1","display":"a@b.c"},{"value":"u2","display":"b@b.c"}]}`,
			members: []MemberOp{{Kind: MemberAdd, Values: []string{"u1", "u2"}}},
		},
		{
			name:    "Okta remove members[value eq id]",
			ops:     `{"op":"remove","path":"members[value eq \"u1\"]"}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1"}}},
		},
		{
			name:    "remove with or-combined value filter",
			ops:     `{"op":"remove","path":"members[value eq \"u1\" or VALUE EQ \"u2\" or value eq \"u3\"]"}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1", "u2", "u3"}}},
		},
		{
			name:    "Okta replace members",
			ops:     `{"op":"replace","path":"members","value":[{"value":"u1"},{"value":"u2"}]}`,
			members: []MemberOp{{Kind: MemberReplace, Values: []string{"u1", "u2"}}},
		},
		{
			name:    "replace members with an empty list empties the group",
			ops:     `{"op":"replace","path":"members","value":[]}`,
			members: []MemberOp{{Kind: MemberReplace, Values: []string{}}},
		},
		{
			name:    "Entra Remove with a value list removes exactly those, never all",
			ops:     `{"op":"Remove","path":"members","value":[{"value":"u1"}]}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1"}}},
		},
		{
			name: "Entra Remove with an empty value list removes nothing",
			ops:  `{"op":"Remove","path":"members","value":[]}`,
		},
		{
			name:    "Entra Add with null $ref",
			ops:     `{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]}`,
			members: []MemberOp{{Kind: MemberAdd, Values: []string{"u1"}}},
		},
		{
			name:    "Entra Remove members[value eq id]",
			ops:     `{"op":"Remove","path":"members[value eq \"u1\"]"}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1"}}},
		},
		{
			name:    "remove members without value removes all",
			ops:     `{"op":"remove","path":"members"}`,
			members: []MemberOp{{Kind: MemberRemoveAll}},
		},
		{
			name:    "URN-qualified members path",
			ops:     `{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:Group:members","value":{"value":"u1"}}`,
			members: []MemberOp{{Kind: MemberAdd, Values: []string{"u1"}}},
		},
		{
			name: "Okta rename with members in one request, in order",
			ops: `{"op":"replace","value":{"id":"g1","displayName":"Eng"}},
				{"op":"remove","path":"members[value eq \"u1\"]"},
				{"op":"add","path":"members","value":[{"value":"u2"}]}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1"}}, {Kind: MemberAdd, Values: []string{"u2"}}},
			rest:    `{"op":"replace","value":{"id":"g1","displayName":"Eng"}}`,
		},
		{
			name:    "path-less add with members keeps the rest",
			ops:     `{"op":"add","value":{"displayName":"Eng","members":[{"value":"u1"}]}}`,
			members: []MemberOp{{Kind: MemberAdd, Values: []string{"u1"}}},
			rest:    `{"op":"add","value":{"displayName":"Eng"}}`,
		},
		{
			name:    "path-less replace with only members",
			ops:     `{"op":"replace","value":{"Members":[{"value":"u1"}]}}`,
			members: []MemberOp{{Kind: MemberReplace, Values: []string{"u1"}}},
		},
		{
			name:    "member value as a bare string id",
			ops:     `{"op":"add","path":"members","value":"u1"}`,
			members: []MemberOp{{Kind: MemberAdd, Values: []string{"u1"}}},
		},
		{
			name:    "member values as a list of bare string ids",
			ops:     `{"op":"Remove","path":"members","value":["u1","u2"]}`,
			members: []MemberOp{{Kind: MemberRemove, Values: []string{"u1", "u2"}}},
		},
		{
			name:    "path-less replace with a bare string member",
			ops:     `{"op":"replace","value":{"members":"u1"}}`,
			members: []MemberOp{{Kind: MemberReplace, Values: []string{"u1"}}},
		},
		{
			name: "other operations pass through",
			ops:  `{"op":"replace","path":"displayName","value":"x"},{"op":"add","path":"externalId","value":"e"}`,
			rest: `{"op":"replace","path":"displayName","value":"x"},{"op":"add","path":"externalId","value":"e"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := Parse(body(tt.ops))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			members, rest, err := SplitMembers(ops)
			if err != nil {
				t.Fatalf("SplitMembers: %v", err)
			}
			if !reflect.DeepEqual(members, tt.members) {
				t.Errorf("members = %+v, want %+v", members, tt.members)
			}
			var wantRest []Operation
			if tt.rest != "" {
				if wantRest, err = Parse(body(tt.rest)); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(rest, wantRest) {
				t.Errorf("rest = %+v, want %+v", rest, wantRest)
			}
		})
	}
}

func TestSplitMembersErrors(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		want scimerror.ScimType
	}{
		{"member without value", `{"op":"add","path":"members","value":[{"display":"x"}]}`, scimerror.InvalidValue},
		{"member value not a string", `{"op":"add","path":"members","value":[{"value":5}]}`, scimerror.InvalidValue},
		{"member as an empty bare string", `{"op":"add","path":"members","value":""}`, scimerror.InvalidValue},
		{"member as a bare number", `{"op":"add","path":"members","value":[5]}`, scimerror.InvalidValue},
		{"member with empty value", `{"op":"Remove","path":"members","value":[{"value":""}]}`, scimerror.InvalidValue},
		{"path-less member without value", `{"op":"replace","value":{"members":[{"display":"x"}]}}`, scimerror.InvalidValue},
		{"filter on display", `{"op":"remove","path":"members[display eq \"x\"]"}`, scimerror.InvalidPath},
		{"and filter", `{"op":"remove","path":"members[value eq \"x\" and type eq \"User\"]"}`, scimerror.InvalidPath},
		{"add through a filter", `{"op":"add","path":"members[value eq \"x\"]","value":{"value":"x"}}`, scimerror.InvalidPath},
		{"member sub-attribute", `{"op":"replace","path":"members[value eq \"x\"].display","value":"y"}`, scimerror.Mutability},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := Parse(body(tt.ops))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, _, err = SplitMembers(ops)
			e, ok := scimerror.As(err)
			if !ok || e.Status != 400 || e.ScimType != tt.want {
				t.Fatalf("SplitMembers error = %v, want 400 %s", err, tt.want)
			}
		})
	}
}

func TestMemberKindString(t *testing.T) {
	for k, want := range map[MemberKind]string{MemberAdd: "add", MemberRemove: "remove", MemberReplace: "replace", MemberRemoveAll: "removeAll", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}
