// Package userscan matches a SCIM filter on the cached users of a full scan (a filter no
// index can narrow): each user is read only for the attributes the filter names, from the
// index entry when it holds them, else from the compact cached user (internal/slimuser).
// Pure: no HTTP, no Kubernetes client; /Users (webhook/scim) calls Match once per request.
package userscan

import (
	"strings"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

// Match is the match of a full scan of users on f (f names no groups): from the index
// entry alone when f reads only what an entry holds (entryMatch), else from a partial decode
// of the cached user (decodeMatch). meta gives a user's metadata, read only for a filter on
// meta. The returned func keeps state between calls: the scan runs it on one goroutine.
func Match(rt schema.ResourceType, f filter.Expr, meta func(*rosterv1.OrgUser) document.Meta) func(*order.Entry) bool {
	keys := filter.Keys(rt, f)
	if entryHolds(keys) {
		return entryMatch(rt, f, keys)
	}
	if p, ok := compile(rt, f); ok {
		return func(e *order.Entry) bool { return p(e, e.Object.(*slimuser.User)) }
	}
	return decodeMatch(rt, f, keys, meta)
}

// entryHolds reports whether an index entry holds every key: id, userName, displayName and
// externalId.
func entryHolds(keys []string) bool {
	for _, k := range keys {
		switch k {
		case "id", "userName", "displayName", "externalId":
		default:
			return false
		}
	}
	return true
}

// entryMatch matches f, which reads only keys an entry holds (entryHolds), on the entry's
// fields: no decode, one document reused for every entry (filter.Match keeps none of it).
// The entry's userName and displayName are folded (naming.Fold): the same match, because
// both are caseExact=false, so Match folds them before every comparison (eq, ne, co, sw, ew,
// gt, ge, lt, le; pr is not affected by case) and Fold is idempotent. externalId (caseExact)
// and id are as stored. Empty values are left out as the document leaves them out, except
// userName, which the document always has.
func entryMatch(rt schema.ResourceType, f filter.Expr, keys []string) func(*order.Entry) bool {
	d := make(map[string]any, len(keys))
	return func(e *order.Entry) bool {
		clear(d)
		for _, k := range keys {
			switch k {
			case "id":
				d[k] = e.Name
			case "userName":
				d[k] = e.UserName
			case "displayName":
				putString(d, k, e.DisplayName)
			case "externalId":
				putString(d, k, e.ExternalID)
			}
		}
		return filter.Match(rt, f, d)
	}
}

// putString sets d[k] to a non-empty v.
func putString(d map[string]any, k, v string) {
	if v != "" {
		d[k] = v
	}
}

// decodeMatch matches f on the attributes it names (keys), decoded from the cached user into
// one OrgUser reused for every entry (the documents share no memory with it).
func decodeMatch(rt schema.ResourceType, f filter.Expr, keys []string, meta func(*rosterv1.OrgUser) document.Meta) func(*order.Entry) bool {
	mask := userMask(keys)
	var u rosterv1.OrgUser
	return func(e *order.Entry) bool {
		u = rosterv1.OrgUser{}
		e.Object.(*slimuser.User).DecodeInto(&u, mask)
		d := document.UserKeys(&u, func() document.Meta { return meta(&u) }, keys)
		return filter.Match(rt, f, d)
	}
}

// userMask is what a filter's match decodes of a cached user to build document.UserKeys of
// keys: the metadata for id and meta, the spec attributes named; everything for a key that is
// no spec attribute (UserKeys then builds the whole document).
func userMask(keys []string) slimuser.Mask {
	var m slimuser.Mask
	for _, k := range keys {
		switch {
		case k == "id" || k == "meta":
			m |= slimuser.Meta
			continue
		case strings.EqualFold(k, schema.EnterpriseUserSchema):
			k = "enterprise"
		case strings.EqualFold(k, "enterprise") || strings.EqualFold(k, "extensions"):
			return slimuser.All // not SCIM attribute names: UserKeys builds the whole document
		}
		sm, ok := slimuser.SpecMask(k)
		if !ok {
			return slimuser.All
		}
		m |= sm
	}
	return m
}
