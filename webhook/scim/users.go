package scim

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func errUserNotFound(id string) error {
	return scimerror.NotFound("User %q not found", id)
}

// getUser serves GET /Users/{id}.
func (s *Server) getUser(c *gin.Context) {
	u, err := s.lookupUser(c.Request.Context(), orgOf(c), c.Param("id"), false)
	if err != nil {
		writeError(c, err)
		return
	}
	if notModified(c, u) {
		return
	}
	s.writeResource(c, http.StatusOK, u, s.renderUser(c, u, s.userDoc(c, u)))
}

// lookupUser reads a user by SCIM id; fresh reads the apiserver (see lookup). Ids that cannot
// be user names are answered without a round trip.
func (s *Server) lookupUser(ctx context.Context, org *rosterv1.Organization, id string, fresh bool) (*rosterv1.OrgUser, error) {
	var u rosterv1.OrgUser
	if !naming.IsUserObjectName(id) {
		return nil, errUserNotFound(id)
	}
	found, err := s.lookup(ctx, org, id, &u, fresh)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errUserNotFound(id)
	}
	return &u, nil
}

// listUsers serves GET /Users: filter, sort, page and project, all from the cache.
func (s *Server) listUsers(c *gin.Context) {
	p, err := parseListParams(c, schema.User)
	if err != nil {
		writeError(c, err)
		return
	}
	users, err := s.candidateUsers(c.Request.Context(), orgOf(c), p.Filter)
	if err != nil {
		writeError(c, err)
		return
	}
	objs := make([]*rosterv1.OrgUser, len(users))
	for i := range users {
		objs[i] = &users[i]
	}
	withGroups := mentionsGroups(p.Filter)
	total, page, err := selectPage(p, schema.User, objs,
		func(u *rosterv1.OrgUser) (map[string]any, error) {
			doc := s.userDoc(c, u)
			if withGroups {
				s.addGroups(c, u, doc)
			}
			return doc, nil
		},
		func(u *rosterv1.OrgUser, doc map[string]any) (map[string]any, error) {
			if doc == nil {
				doc = s.userDoc(c, u)
			}
			return s.renderUser(c, u, doc), nil
		})
	if err != nil {
		writeError(c, err)
		return
	}
	writeList(c, total, p.StartIndex, page)
}

// candidateUsers returns the users a filter can match, using an index when the filter has an
// indexed equality conjunct (userName, id, externalId, emails.value); otherwise every user of
// the org, from the cache. The filter is still applied to each candidate afterwards.
func (s *Server) candidateUsers(ctx context.Context, org *rosterv1.Organization, f filter.Expr) ([]rosterv1.OrgUser, error) {
	for _, term := range filter.EqualityTerms(f) {
		value, ok := term.Value.(string)
		if !ok {
			continue
		}
		var field, indexed string
		switch path := strings.ToLower(term.Path.String()); path {
		case "username", strings.ToLower(schema.UserSchema + ":userName"):
			field, indexed = index.UserName, index.UserNameValue(value)
		case "externalid":
			field, indexed = index.UserExternalID, value
		case "emails.value", "emails":
			field, indexed = index.UserEmail, index.EmailValue(value)
		case "id":
			u, err := s.lookupUser(ctx, org, value, false)
			if err != nil {
				return nil, ignoreNotFound(err)
			}
			return []rosterv1.OrgUser{*u}, nil
		default:
			continue
		}
		var list rosterv1.OrgUserList
		return list.Items, s.cachedList(ctx, &list, org, client.MatchingFields{field: indexed})
	}
	var list rosterv1.OrgUserList
	return list.Items, s.cachedList(ctx, &list, org)
}

// cachedList lists an org's objects from the cache. The cached objects are only read
// (documents are built from them), never modified, so they are listed without deep copies:
// a full scan of 100,000 users would otherwise copy every one.
func (s *Server) cachedList(ctx context.Context, list client.ObjectList, org *rosterv1.Organization, opts ...client.ListOption) error {
	opts = append(opts, client.InNamespace(org.Spec.Namespace), client.UnsafeDisableDeepCopy)
	return s.opts.Client.List(ctx, list, opts...)
}

// ignoreNotFound turns a SCIM 404 into no error: a lookup by id inside a filter that finds
// nothing is an empty result, not an error.
func ignoreNotFound(err error) error {
	if se, ok := scimerror.As(err); ok && se.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// createUser serves POST /Users. The object name derives from the userName, so the apiserver
// refuses a duplicate even when two replicas race: exactly one create wins, the other is 409.
func (s *Server) createUser(c *gin.Context) {
	spec, err := readUserSpec(c)
	if err != nil {
		writeError(c, err)
		return
	}
	org := orgOf(c)
	u := &rosterv1.OrgUser{Spec: spec}
	u.Name = naming.UserObjectName(spec.UserName)
	u.Namespace = org.Spec.Namespace
	u.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	stampModified(u, s.opts.Now())
	if err := s.opts.Client.Create(c.Request.Context(), u); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = s.existingUserError(c.Request.Context(), u)
		}
		s.audit(c, "create", "User", u.Name, err)
		writeError(c, err)
		return
	}
	s.audit(c, "create", "User", u.Name, nil)
	// No awaitCache here, unlike updates: a create is read back by id through the apiserver
	// fallback of lookupUser, and waiting for the watch would cost a fifth of POST throughput
	// (hack/bench). Only a list on this replica may miss the user for a few milliseconds.
	c.Header("Location", s.resourceURL(c, "Users", u.Name))
	s.writeResource(c, http.StatusCreated, u, s.renderUser(c, u, s.userDoc(c, u)))
}

// existingUserError explains a create refused because the object exists: 409 uniqueness, or
// 503 while the previous user of that userName is still being deleted (its finalizer waits
// for the identity store) — Entra deletes and re-creates users, and should simply retry.
func (s *Server) existingUserError(ctx context.Context, u *rosterv1.OrgUser) error {
	var existing rosterv1.OrgUser
	if err := s.opts.APIReader.Get(ctx, client.ObjectKeyFromObject(u), &existing); err == nil && existing.DeletionTimestamp != nil {
		return scimerror.New(http.StatusServiceUnavailable, "", "the previous User with userName %q is still being deleted; retry shortly", u.Spec.UserName)
	}
	return scimerror.Conflict("a User with userName %q already exists", u.Spec.UserName)
}

// readUserSpec reads a POST/PUT User body into an OrgUserSpec.
func readUserSpec(c *gin.Context) (rosterv1.OrgUserSpec, error) {
	doc, err := readResource(c, schema.User)
	if err != nil {
		return rosterv1.OrgUserSpec{}, err
	}
	return userSpecFromDoc(doc)
}

// keepUserName enforces that usernames are immutable: a different userName is 400
// mutability; a change of case only is not a change and keeps the stored spelling.
func keepUserName(current string, spec *rosterv1.OrgUserSpec) error {
	if naming.Fold(spec.UserName) != naming.Fold(current) {
		return scimerror.BadRequest(scimerror.Mutability, "userName is immutable: cannot change %q to %q", current, spec.UserName)
	}
	spec.UserName = current
	return nil
}

// replaceUser serves PUT /Users/{id}: the body replaces every writable attribute. userName
// cannot change (usernames are immutable): a different one is 400 mutability.
func (s *Server) replaceUser(c *gin.Context) {
	spec, err := readUserSpec(c)
	if err != nil {
		writeError(c, err)
		return
	}
	s.updateUser(c, "replace", func(u *rosterv1.OrgUser) error {
		next := spec
		if err := keepUserName(u.Spec.UserName, &next); err != nil {
			return err
		}
		u.Spec = next
		return nil
	})
}

// patchUser serves PATCH /Users/{id}.
func (s *Server) patchUser(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ops, err := patch.Parse(body)
	if err != nil {
		writeError(c, err)
		return
	}
	s.updateUser(c, "patch", func(u *rosterv1.OrgUser) error {
		doc, err := patch.Apply(schema.User, s.userDoc(c, u), ops)
		if err != nil {
			return err
		}
		spec, err := userSpecFromDoc(doc)
		if err != nil {
			return err
		}
		if err := keepUserName(u.Spec.UserName, &spec); err != nil {
			return err
		}
		u.Spec = spec
		return nil
	})
}

// updateUser runs a read-modify-write of one user with optimistic concurrency. Without
// If-Match a conflict with another writer re-reads and re-applies the change; with If-Match
// a stale version is 412. mutate must not have side effects: it may run more than once.
func (s *Server) updateUser(c *gin.Context, op string, mutate func(*rosterv1.OrgUser) error) {
	ctx := c.Request.Context()
	org, id := orgOf(c), c.Param("id")
	ifMatch := c.GetHeader("If-Match")
	var result *rosterv1.OrgUser
	fresh := false // after a conflict, read from the apiserver: the cache may lag behind it
	err := retry.RetryOnConflict(membership.ConflictBackoff, func() error {
		u, err := s.lookupUser(ctx, org, id, fresh)
		fresh = true
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, u); err != nil {
			return err
		}
		before := u.DeepCopy()
		if err := mutate(u); err != nil {
			return err
		}
		if equalSpec(before, u) {
			result = u // nothing changed: no write, same version
			return nil
		}
		stampModified(u, s.opts.Now())
		if err := s.opts.Client.Update(ctx, u); err != nil {
			if apierrors.IsConflict(err) && ifMatch != "" {
				return errPreconditionFailed
			}
			return err
		}
		s.awaitCache(ctx, u, false)
		result = u
		return nil
	})
	s.audit(c, op, "User", id, err)
	if err != nil {
		writeError(c, err)
		return
	}
	s.writeResource(c, http.StatusOK, result, s.renderUser(c, result, s.userDoc(c, result)))
}

// deleteUser serves DELETE /Users/{id} (204). Okta never deletes (it deactivates); Entra and
// others do. Team memberships of the user are removed by the controllers.
func (s *Server) deleteUser(c *gin.Context) {
	ctx := c.Request.Context()
	org, id := orgOf(c), c.Param("id")
	u, err := s.lookupUser(ctx, org, id, false)
	if err == nil {
		err = checkIfMatch(c.GetHeader("If-Match"), u)
		if err == nil {
			// Out of every team first: a user that is gone must not linger as a member.
			err = s.members.RemoveUserEverywhere(ctx, org.Spec.Namespace, u.Name)
		}
		if err == nil {
			opts := []client.DeleteOption{}
			if c.GetHeader("If-Match") != "" {
				opts = append(opts, client.Preconditions{ResourceVersion: &u.ResourceVersion})
			}
			err = s.opts.Client.Delete(ctx, u, opts...)
			if err == nil {
				s.awaitCache(ctx, u, true)
			}
			if apierrors.IsNotFound(err) {
				err = errUserNotFound(id)
			} else if apierrors.IsConflict(err) {
				err = errPreconditionFailed
			}
		}
	}
	s.audit(c, "delete", "User", id, err)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// renderUser adds the user's groups when the response includes them, then projects.
func (s *Server) renderUser(c *gin.Context, u *rosterv1.OrgUser, doc map[string]any) map[string]any {
	attrs, excluded := projection(c)
	if _, done := doc["groups"]; !done && wantsAttribute("groups", attrs, excluded) {
		s.addGroups(c, u, doc)
	}
	return schema.Project(schema.User, doc, attrs, excluded)
}

// addGroups sets the read-only "groups" attribute: the SCIM-managed teams the user is in,
// found through the slice member index.
func (s *Server) addGroups(c *gin.Context, u *rosterv1.OrgUser, doc map[string]any) {
	teams, err := s.teamsWithMember(c.Request.Context(), orgOf(c), u.Name)
	if err != nil || len(teams) == 0 {
		return
	}
	sort.Slice(teams, func(i, j int) bool { return teams[i].Spec.DisplayName < teams[j].Spec.DisplayName })
	groups := make([]any, 0, len(teams))
	for _, t := range teams {
		if t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
			continue
		}
		groups = append(groups, map[string]any{
			"value": t.Name, "$ref": s.resourceURL(c, "Groups", t.Name), "display": t.Spec.DisplayName, "type": "direct",
		})
	}
	if len(groups) > 0 {
		doc["groups"] = groups
	}
}

// mentionsGroups reports whether a filter refers to the groups attribute.
func mentionsGroups(e filter.Expr) bool { return e != nil && filter.Refers(e, "groups") }
