package scim

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
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

// groupRoutes mounts /Groups.
func (s *Server) groupRoutes(g *gin.RouterGroup) {
	g.GET("", s.listGroups)
	g.POST("", s.createGroup)
	g.GET("/:id", s.getGroup)
	g.PUT("/:id", s.replaceGroup)
	g.PATCH("/:id", s.patchGroup)
	g.DELETE("/:id", s.deleteGroup)
}

func errGroupNotFound(id string) error { return scimerror.NotFound("Group %q not found", id) }

// lookupTeam reads a SCIM-visible team by id; fresh reads the apiserver (see lookup).
func (s *Server) lookupTeam(ctx context.Context, org *rosterv1.Organization, id string, fresh bool) (*rosterv1.OrgTeam, error) {
	var t rosterv1.OrgTeam
	if !naming.IsTeamObjectName(id) {
		return nil, errGroupNotFound(id)
	}
	found, err := s.lookup(ctx, org, id, &t, fresh)
	if err != nil {
		return nil, err
	}
	// Teams made by hand are not SCIM resources: the identity provider neither sees nor edits them.
	if !found || t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
		return nil, errGroupNotFound(id)
	}
	return &t, nil
}

// memberRef is one member in a Group response. A typed struct, not a map: a team can have
// 100,000 of them.
type memberRef struct {
	Value string `json:"value"`
	Ref   string `json:"$ref"`
	Type  string `json:"type"`
}

// groupDoc is the SCIM representation of a team without its members.
func (s *Server) groupDoc(c *gin.Context, t teamView) map[string]any {
	doc := map[string]any{
		"schemas":     []any{schema.GroupSchema},
		"id":          t.Name,
		"displayName": t.Spec.DisplayName,
		"meta":        resourceMeta(t, "Group", s.resourceURL(c, "Groups", t.Name)),
	}
	if t.Spec.ExternalID != "" {
		doc["externalId"] = t.Spec.ExternalID
	}
	return doc
}

// memberRefs lists a team's members from its slices in the cache.
func (s *Server) memberRefs(c *gin.Context, t *rosterv1.OrgTeam) ([]memberRef, error) {
	sl, err := s.members.Slices(c.Request.Context(), t, false)
	if err != nil {
		return nil, err
	}
	ids := membership.Members(sl).Sorted()
	base := s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/Users/"
	out := make([]memberRef, len(ids))
	for i, id := range ids {
		out[i] = memberRef{Value: id, Ref: base + id, Type: "User"}
	}
	return out, nil
}

// wantsMembers reports whether the response must list members. Reading a group without them
// (Entra's excludedAttributes=members) never touches the member slices, so it costs the same
// for a 100,000-member team as for a 3-member one.
func wantsMembers(attributes, excluded []string) bool {
	return wantsAttribute("members", attributes, excluded)
}

// wantsAttribute reports whether a top-level attribute belongs in a response under the
// request's attributes/excludedAttributes (RFC 7644 §3.9).
func wantsAttribute(name string, attributes, excluded []string) bool {
	is := func(a string) bool {
		l := strings.ToLower(a)
		return l == name || strings.HasPrefix(l, name+".") || strings.HasSuffix(l, ":"+name)
	}
	for _, a := range excluded {
		if is(a) {
			return false
		}
	}
	if len(attributes) == 0 {
		return true
	}
	for _, a := range attributes {
		if is(a) {
			return true
		}
	}
	return false
}

// renderGroup projects the group document and attaches members when asked for.
func (s *Server) renderGroup(c *gin.Context, t teamView, attributes, excluded []string) (map[string]any, error) {
	doc := schema.Project(schema.Group, s.groupDoc(c, t), attributes, excluded)
	if wantsMembers(attributes, excluded) {
		refs, err := s.memberRefs(c, t.OrgTeam)
		if err != nil {
			return nil, err
		}
		doc["members"] = refs
	}
	return doc, nil
}

func (s *Server) writeGroup(c *gin.Context, status int, t *rosterv1.OrgTeam) {
	v, err := s.view(c.Request.Context(), t)
	if err != nil {
		writeError(c, err)
		return
	}
	attrs, excluded := projection(c)
	doc, err := s.renderGroup(c, v, attrs, excluded)
	if err != nil {
		writeError(c, err)
		return
	}
	s.writeResource(c, status, v, doc)
}

// getGroup serves GET /Groups/{id}.
func (s *Server) getGroup(c *gin.Context) {
	t, err := s.lookupTeam(c.Request.Context(), orgOf(c), c.Param("id"), false)
	if err != nil {
		writeError(c, err)
		return
	}
	v, err := s.view(c.Request.Context(), t)
	if err != nil {
		writeError(c, err)
		return
	}
	if notModified(c, v) {
		return
	}
	s.writeGroup(c, http.StatusOK, t)
}

// listGroups serves GET /Groups.
func (s *Server) listGroups(c *gin.Context) {
	p, err := parseListParams(c, schema.Group)
	if err != nil {
		writeError(c, err)
		return
	}
	teams, err := s.candidateTeams(c.Request.Context(), orgOf(c), p.Filter)
	if err != nil {
		writeError(c, err)
		return
	}
	needMembers := mentionsMembers(p.Filter) || strings.HasPrefix(strings.ToLower(p.SortBy), "members")
	objs := make([]*rosterv1.OrgTeam, 0, len(teams))
	for i := range teams {
		if teams[i].Spec.ManagedBy == rosterv1.ManagedBySCIM {
			objs = append(objs, &teams[i])
		}
	}
	// A filtered team's view is built for the filter and reused for the page.
	views := map[string]teamView{}
	viewOf := func(t *rosterv1.OrgTeam) (teamView, error) {
		if v, ok := views[t.Name]; ok {
			return v, nil
		}
		v, err := s.view(c.Request.Context(), t)
		if err == nil {
			views[t.Name] = v
		}
		return v, err
	}
	total, page, err := selectPage(p, schema.Group, objs,
		func(t *rosterv1.OrgTeam) (map[string]any, error) {
			v, err := viewOf(t)
			if err != nil {
				return nil, err
			}
			doc := s.groupDoc(c, v)
			if !needMembers {
				return doc, nil
			}
			refs, err := s.memberRefs(c, t)
			if err != nil {
				return nil, err
			}
			ms := make([]any, len(refs))
			for j, r := range refs {
				ms[j] = map[string]any{"value": r.Value, "type": r.Type}
			}
			doc["members"] = ms
			return doc, nil
		},
		func(t *rosterv1.OrgTeam, _ map[string]any) (map[string]any, error) {
			v, err := viewOf(t)
			if err != nil {
				return nil, err
			}
			return s.renderGroup(c, v, p.Attributes, p.Excluded)
		})
	if err != nil {
		writeError(c, err)
		return
	}
	writeList(c, total, p.StartIndex, page)
}

// mentionsMembers reports whether a filter refers to the members attribute.
func mentionsMembers(e filter.Expr) bool { return e != nil && filter.Refers(e, "members") }

// candidateTeams narrows a filter through the indexes (displayName, externalId, id,
// members.value); otherwise every team of the org, from the cache.
func (s *Server) candidateTeams(ctx context.Context, org *rosterv1.Organization, f filter.Expr) ([]rosterv1.OrgTeam, error) {
	for _, term := range filter.EqualityTerms(f) {
		value, ok := term.Value.(string)
		if !ok {
			continue
		}
		var field, indexed string
		switch strings.ToLower(term.Path.String()) {
		case "displayname", strings.ToLower(schema.GroupSchema + ":displayName"):
			field, indexed = index.TeamName, index.TeamNameValue(value)
		case "externalid":
			field, indexed = index.TeamExternalID, value
		case "id":
			t, err := s.lookupTeam(ctx, org, value, false)
			if err != nil {
				return nil, ignoreNotFound(err)
			}
			return []rosterv1.OrgTeam{*t}, nil
		case "members.value", "members":
			return s.teamsWithMember(ctx, org, value)
		default:
			continue
		}
		var list rosterv1.OrgTeamList
		return list.Items, s.cachedList(ctx, &list, org, client.MatchingFields{field: indexed})
	}
	var list rosterv1.OrgTeamList
	return list.Items, s.cachedList(ctx, &list, org)
}

// teamsWithMember returns the teams that list a user, through the slice member index.
func (s *Server) teamsWithMember(ctx context.Context, org *rosterv1.Organization, userID string) ([]rosterv1.OrgTeam, error) {
	var sl rosterv1.OrgTeamMemberSliceList
	if err := s.cachedList(ctx, &sl, org, client.MatchingFields{index.SliceMember: userID}); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []rosterv1.OrgTeam
	for _, x := range sl.Items {
		if seen[x.Spec.Team] {
			continue
		}
		seen[x.Spec.Team] = true
		var t rosterv1.OrgTeam
		err := s.opts.Client.Get(ctx, types.NamespacedName{Namespace: org.Spec.Namespace, Name: x.Spec.Team}, &t)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// groupInput is a validated Group body: its document without members, and its member ids.
type groupInput struct {
	displayName, externalID string
	members                 []string
}

// readGroup reads, decodes and validates a POST/PUT Group body.
//
// Members are taken out before the rest is normalized: a PUT can carry 100,000 of them, and
// the PATCH machinery validates member lists already (same rules, same errors).
func (s *Server) readGroup(c *gin.Context) (groupInput, error) {
	body, err := readBody(c)
	if err != nil {
		return groupInput{}, err
	}
	raw, err := decodeObject(body)
	if err != nil {
		return groupInput{}, err
	}
	var rawMembers any
	for k, v := range raw {
		if strings.EqualFold(k, "members") {
			rawMembers = v
			delete(raw, k)
		}
	}
	doc, err := schema.Normalize(schema.Group, raw)
	if err != nil {
		return groupInput{}, err
	}
	in, err := groupFromDoc(doc)
	if err != nil || rawMembers == nil {
		return in, err
	}
	path, _ := patch.ParsePath("members")
	ops, _, err := patch.SplitMembers([]patch.Operation{{Op: patch.Replace, Path: &path, Value: rawMembers}})
	if err != nil {
		return in, err
	}
	for _, op := range ops {
		in.members = append(in.members, op.Values...)
	}
	return in, nil
}

// groupFromDoc extracts the fields Roster stores, members aside, from a normalized Group
// document.
func groupFromDoc(doc map[string]any) (groupInput, error) {
	in := groupInput{}
	in.displayName, _ = doc["displayName"].(string)
	in.externalID, _ = doc["externalId"].(string)
	if strings.TrimSpace(in.displayName) == "" {
		return in, scimerror.BadRequest(scimerror.InvalidValue, "displayName is required")
	}
	return in, nil
}

// isUser returns a resolver for member ids: a member must be a user of the org.
func (s *Server) isUser(ctx context.Context, org *rosterv1.Organization) func(string) bool {
	return func(id string) bool {
		if !naming.IsUserObjectName(id) {
			return false
		}
		var u rosterv1.OrgUser
		return s.opts.Client.Get(ctx, types.NamespacedName{Namespace: org.Spec.Namespace, Name: id}, &u) == nil && u.DeletionTimestamp == nil
	}
}

// createGroup serves POST /Groups: reserve the display name, create the team, write its
// members; if a step fails the earlier ones are undone, so nothing is half-created.
func (s *Server) createGroup(c *gin.Context) {
	ctx := c.Request.Context()
	org := orgOf(c)
	in, err := s.readGroup(c)
	if err != nil {
		writeError(c, err)
		return
	}
	t := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: in.displayName, ExternalID: in.externalID, ManagedBy: rosterv1.ManagedBySCIM}}
	t.Name, t.Namespace = naming.NewTeamObjectName(), org.Spec.Namespace
	t.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	stampModified(t, s.opts.Now())
	err = s.claimDisplayName(ctx, t, in.displayName)
	if err == nil {
		if err = s.opts.Client.Create(ctx, t); err != nil {
			_ = s.releaseDisplayName(ctx, t, in.displayName)
		}
	}
	if err == nil && len(in.members) > 0 {
		var res membership.Result
		res, err = s.members.Change(ctx, t, func(cur membership.Set) (membership.Set, []string) {
			return membership.Desired(cur, []patch.MemberOp{{Kind: patch.MemberReplace, Values: in.members}}, s.isUser(ctx, org))
		})
		if err == nil {
			err = s.recordUnresolved(ctx, t, res.Unresolved)
			s.awaitMembers(ctx, res)
		}
		if err != nil {
			s.undoCreate(t, in.displayName)
		}
	}
	if err != nil {
		s.audit(c, "create", "Group", "", err) // nothing was created: no id to name
		writeError(c, err)
		return
	}
	s.audit(c, "create", "Group", t.Name, nil)
	c.Header("Location", s.resourceURL(c, "Groups", t.Name))
	s.writeGroup(c, http.StatusCreated, t)
}

// undoCreate removes what a failed create wrote. It uses a fresh context: the request's may
// be the reason for the failure.
func (s *Server) undoCreate(t *rosterv1.OrgTeam, displayName string) {
	ctx, cancel := context.WithTimeout(context.Background(), cacheWaitTimeout*5)
	defer cancel()
	_ = s.members.DeleteAll(ctx, t)
	_ = client.IgnoreNotFound(s.opts.Client.Delete(ctx, t))
	_ = s.releaseDisplayName(ctx, t, displayName)
}

// awaitMembers waits until this replica's cache shows a membership change, so the identity
// provider's next read here sees it.
func (s *Server) awaitMembers(ctx context.Context, res membership.Result) {
	if res.Last != nil {
		s.awaitCache(ctx, res.Last, res.LastDeleted)
	}
}

// recordUnresolved writes the member ids of the last change that are not users of the org
// to the team's status (bounded), so an admin sees why someone is missing. No write when
// nothing changes.
func (s *Server) recordUnresolved(ctx context.Context, t *rosterv1.OrgTeam, unresolved []string) error {
	if len(unresolved) == 0 && t.Status.UnresolvedMemberCount == 0 && len(t.Status.UnresolvedMembers) == 0 {
		return nil
	}
	shown := unresolved
	if len(shown) > rosterv1.MaxUnresolvedMembers {
		shown = shown[len(shown)-rosterv1.MaxUnresolvedMembers:]
	}
	base := t.DeepCopy()
	t.Status.UnresolvedMembers = shown
	t.Status.UnresolvedMemberCount = int32(len(unresolved))
	return s.opts.Client.Status().Patch(ctx, t, client.MergeFrom(base))
}

// replaceGroup serves PUT /Groups/{id}: display name, externalId and members replaced.
func (s *Server) replaceGroup(c *gin.Context) {
	in, err := s.readGroup(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ops := []patch.MemberOp{{Kind: patch.MemberReplace, Values: in.members}}
	s.changeGroup(c, "replace", func(cur rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error) {
		cur.DisplayName, cur.ExternalID = in.displayName, in.externalID
		return cur, nil
	}, ops, true)
}

// patchGroup serves PATCH /Groups/{id}. Membership operations go to the member slices;
// the rest (Okta's rename with the id inside the value, externalId) to the team itself. The
// whole request is validated before anything is written. Answers 204, or 200 with the group
// when attributes/excludedAttributes ask for it.
func (s *Server) patchGroup(c *gin.Context) {
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
	memberOps, rest, err := patch.SplitMembers(ops)
	if err != nil {
		writeError(c, err)
		return
	}
	attrs, excluded := projection(c)
	s.changeGroup(c, "patch", func(cur rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error) {
		if len(rest) == 0 {
			return cur, nil
		}
		doc := map[string]any{"schemas": []any{schema.GroupSchema}, "id": c.Param("id"), "displayName": cur.DisplayName}
		if cur.ExternalID != "" {
			doc["externalId"] = cur.ExternalID
		}
		out, err := patch.Apply(schema.Group, doc, rest)
		if err != nil {
			return cur, err
		}
		in, err := groupFromDoc(out)
		if err != nil {
			return cur, err
		}
		cur.DisplayName, cur.ExternalID = in.displayName, in.externalID
		return cur, nil
	}, memberOps, len(attrs) > 0 || len(excluded) > 0)
}

// changeGroup updates a team: spec changes first (with a display-name claim on rename), then
// memberships in as few slice writes as possible. mutate must be pure: it runs again on a
// conflict. A failure of the member write after a rename puts the old spec back.
func (s *Server) changeGroup(c *gin.Context, op string, mutate func(rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error), memberOps []patch.MemberOp, respond bool) {
	ctx := c.Request.Context()
	org, id := orgOf(c), c.Param("id")
	ifMatch := c.GetHeader("If-Match")
	t, err := s.lookupTeam(ctx, org, id, false)
	if err == nil {
		err = s.checkTeamIfMatch(ctx, ifMatch, t)
	}
	if err == nil {
		err = s.updateTeamSpec(ctx, org, t, ifMatch, mutate)
	}
	if err == nil && len(memberOps) > 0 {
		var res membership.Result
		res, err = s.members.Change(ctx, t, func(cur membership.Set) (membership.Set, []string) {
			return membership.Desired(cur, memberOps, s.isUser(ctx, org))
		})
		if err == nil {
			err = s.recordUnresolved(ctx, t, res.Unresolved)
			s.awaitMembers(ctx, res)
		}
	}
	s.audit(c, op, "Group", id, err)
	if err != nil {
		writeError(c, err)
		return
	}
	if !respond {
		if v, err := s.view(ctx, t); err == nil {
			c.Header("ETag", etag(v))
		}
		c.Status(http.StatusNoContent)
		return
	}
	s.writeGroup(c, http.StatusOK, t)
}

// updateTeamSpec applies mutate to the team with optimistic concurrency. A new display name
// is claimed before the team changes and the old claim released after. t is updated in place.
func (s *Server) updateTeamSpec(ctx context.Context, org *rosterv1.Organization, t *rosterv1.OrgTeam, ifMatch string, mutate func(rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error)) error {
	first := true
	return retry.RetryOnConflict(membership.ConflictBackoff, func() error {
		if !first {
			fresh, err := s.lookupTeam(ctx, org, t.Name, true)
			if err != nil {
				return err
			}
			*t = *fresh
		}
		first = false
		spec, err := mutate(t.Spec)
		if err != nil {
			return err
		}
		if spec == t.Spec {
			return nil
		}
		oldName := t.Spec.DisplayName
		renamed := naming.Fold(spec.DisplayName) != naming.Fold(oldName)
		if renamed {
			if err := s.claimDisplayName(ctx, t, spec.DisplayName); err != nil {
				return err
			}
		}
		t.Spec = spec
		stampModified(t, s.opts.Now())
		if err := s.opts.Client.Update(ctx, t); err != nil {
			if renamed {
				_ = s.releaseDisplayName(ctx, t, spec.DisplayName)
			}
			if apierrors.IsConflict(err) && ifMatch != "" {
				return errPreconditionFailed
			}
			return err
		}
		if renamed {
			_ = s.releaseDisplayName(ctx, t, oldName) // a leftover claim is stale and reclaimable
		}
		s.awaitCache(ctx, t, false)
		return nil
	})
}

// deleteGroup serves DELETE /Groups/{id} (204): the team, its member slices and its name claim.
func (s *Server) deleteGroup(c *gin.Context) {
	ctx := c.Request.Context()
	org, id := orgOf(c), c.Param("id")
	t, err := s.lookupTeam(ctx, org, id, false)
	if err == nil {
		err = s.checkTeamIfMatch(ctx, c.GetHeader("If-Match"), t)
	}
	if err == nil {
		var opts []client.DeleteOption
		if c.GetHeader("If-Match") != "" {
			opts = append(opts, client.Preconditions{ResourceVersion: &t.ResourceVersion})
		}
		err = s.opts.Client.Delete(ctx, t, opts...)
		switch {
		case apierrors.IsNotFound(err):
			err = errGroupNotFound(id)
		case apierrors.IsConflict(err):
			err = errPreconditionFailed
		case err == nil:
			if err = s.members.DeleteAll(ctx, t); err == nil {
				err = s.releaseDisplayName(ctx, t, t.Spec.DisplayName)
			}
			s.awaitCache(ctx, t, true)
		}
	}
	s.audit(c, "delete", "Group", id, err)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// checkTeamIfMatch compares If-Match with the team's version, members included.
func (s *Server) checkTeamIfMatch(ctx context.Context, ifMatch string, t *rosterv1.OrgTeam) error {
	if ifMatch == "" {
		return nil
	}
	v, err := s.view(ctx, t)
	if err != nil {
		return err
	}
	return checkIfMatch(ifMatch, v)
}
