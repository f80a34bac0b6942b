package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/orgschema"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// groupRoutes mounts /Groups.
func (s *Server) groupRoutes(g *gin.RouterGroup) {
	getRoute(g, "", s.listGroups)
	g.POST("", s.createGroup)
	getRoute(g, "/:id", s.getGroup)
	g.PUT("/:id", s.replaceGroup)
	g.PATCH("/:id", s.patchGroup)
	g.DELETE("/:id", s.deleteGroup)
}

// defaultMemberBudget is the most member refs a cursor-paged /Groups list page (RFC 9865)
// carries when members are shown: the page ends before the team that would pass it (but
// always holds one team, so that paging never stalls on a huge team), itemsPerPage says how
// many teams it holds, and nextCursor continues after the last one. RFC 7644 §3.4.2.4 lets a
// page hold fewer resources than count.
//
// Pages asked for by startIndex are never cut: Okta's import advances startIndex by count, not
// by itemsPerPage (IDP-REQUESTS), so a short page would make it skip the teams left out,
// without an error anywhere. Those pages hold count teams; members are streamed from the
// slices (stream.go), so memory stays bounded whatever the teams' sizes, and only the
// response grows. It is advertised nowhere.
const defaultMemberBudget = 10000

// groupDoc is the SCIM representation of a team view without its members.
func (s *Server) groupDoc(c *gin.Context, v membership.View) map[string]any {
	return document.Group(v.Team, document.Meta{
		ResourceType: "Group", Location: s.resourceURL(c, "Groups", v.Team.Name), Version: v.Version,
		Created: v.Team.CreationTimestamp.Time, LastModified: v.LastModified,
	})
}

// groupItem encodes a group for a response: its document as the request's projection cuts
// it, and, when members are shown, the team's slices to stream them from (stream.go). No list
// of the members is built. Reading a group without them (Entra's excludedAttributes=members)
// never touches the member slices, so it costs the same for a 100,000-member team as for a
// 3-member one.
func (s *Server) groupItem(c *gin.Context, l membership.Listing, proj schema.Projection) (listItem, error) {
	head, err := json.Marshal(proj.Apply(s.groupDoc(c, l.View)))
	if err != nil {
		return listItem{}, err
	}
	item := listItem{head: head}
	// An empty multi-valued attribute is left out (RFC 7643 §2.5), and so is one whose
	// values keep no sub-attribute.
	fields := memberFieldsOf(proj)
	if proj.Keeps("members") && fields.any() && l.Count() > 0 {
		item.members = &l
		item.fields = fields
		item.userRef = escaped(s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/Users/")
	}
	return item, nil
}

// writeGroup renders one group (as the request's attributes ask) with its ETag.
func (s *Server) writeGroup(c *gin.Context, status int, t *rosterv1.OrgTeam) {
	l, err := s.dir.Listing(c.Request.Context(), t)
	if err != nil {
		writeError(c, err)
		return
	}
	s.writeListing(c, status, l)
}

// writeListing streams a team with its ETag. The version comes from the same read of the
// slices as the members, so the ETag describes exactly the body.
func (s *Server) writeListing(c *gin.Context, status int, l membership.Listing) {
	item, err := s.groupItem(c, l, projectionOf(c, groupType(c)))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", document.ETag(l.Version))
	writeResource(c, status, item)
}

// getGroup serves GET /Groups/{id}.
func (s *Server) getGroup(c *gin.Context) {
	ctx := c.Request.Context()
	t, err := s.dir.GetTeam(ctx, orgOf(c).Spec.Namespace, c.Param("id"))
	if err != nil {
		writeError(c, groupErr(err, c.Param("id")))
		return
	}
	l, err := s.dir.Listing(ctx, t)
	if err != nil {
		writeError(c, err)
		return
	}
	if notModified(c, l.Version) {
		return
	}
	s.writeListing(c, http.StatusOK, l)
}

// listGroups serves GET /Groups and POST /Groups/.search.
func (s *Server) listGroups(c *gin.Context) {
	p, err := parseListParams(c, groupType(c))
	if err != nil {
		writeError(c, err)
		return
	}
	p = p.of(groupType(c))
	sel, page, err := s.searchGroups(c, p)
	if err != nil {
		writeError(c, err)
		return
	}
	writeSelection(c, p, sel, page)
}

// searchGroups returns the groups p selects and the encoded page of them it asks for.
//
// Each team's slices are read once (one lookup in the slice team index, shared with the
// cache) and serve its version, its member count and its members. Member conditions of the
// filter are decided from the slice member index and the counts (memberFilter); sortBy on
// members sorts by each team's first member id (RFC 7644 §3.4.2.3: a multi-valued attribute
// sorts by its primary value, else its first; members have no primary), read from the slices
// without listing the rest.
func (s *Server) searchGroups(c *gin.Context, p listParams) (selection, []listItem, error) {
	ctx, ns := c.Request.Context(), orgOf(c).Spec.Namespace
	var q order.Query
	if p.Filter != nil {
		cands, indexed, err := s.candidateTeams(c, p.Filter)
		if err != nil {
			return selection{}, nil, err
		}
		if indexed {
			q.Candidates = make([]*order.Entry, 0, len(cands))
			for _, t := range directory.SCIMTeams(cands) {
				if t.DeletionTimestamp == nil {
					q.Candidates = append(q.Candidates, order.TeamEntry(t))
				}
			}
		}
	}
	listings := map[string]membership.Listing{}
	listing := func(t *rosterv1.OrgTeam) (membership.Listing, error) {
		if l, ok := listings[t.Name]; ok {
			return l, nil
		}
		l, err := s.dir.Listing(ctx, t)
		if err == nil {
			listings[t.Name] = l
		}
		return l, err
	}
	var match func(*order.Entry, func() map[string]any) (bool, error)
	if mentionsMembers(p.Filter) {
		mf, err := newMemberFilter(ctx, p.Filter, func(ctx context.Context, id string) (map[string]bool, error) {
			return s.dir.TeamNamesWithMember(ctx, ns, id)
		})
		if err != nil {
			return selection{}, nil, err
		}
		mf.rt, mf.listing = groupType(c), listing
		match = func(e *order.Entry, doc func() map[string]any) (bool, error) {
			return mf.match(e.Object.(*rosterv1.OrgTeam), doc())
		}
	}
	byFirstMember := false
	if r, ok := groupType(c).Lookup(p.SortBy); ok && p.SortBy != "" {
		byFirstMember = r.Name == "members"
	}
	doc := func(e *order.Entry) (map[string]any, error) {
		l, err := listing(e.Object.(*rosterv1.OrgTeam))
		if err != nil {
			return nil, err
		}
		doc := s.groupDoc(c, l.View)
		if byFirstMember {
			l.Each(func(id string) bool {
				doc["members"] = []any{map[string]any{"value": id, "type": "User"}}
				return false
			})
		}
		return doc, nil
	}
	sel, err := s.selectPage(c, p, groupType(c), q, doc, match, s.dir.SelectTeams)
	if err != nil {
		return sel, nil, err
	}
	proj := schema.NewProjection(groupType(c), p.Attributes, p.Excluded) // once for the page
	page, err := s.groupPage(p, proj.Keeps("members"), listedOf[*rosterv1.OrgTeam](sel), listing, func(l membership.Listing) (listItem, error) {
		return s.groupItem(c, l, proj)
	})
	return sel, page, err
}

// groupPage encodes the selected teams of a page, up to the member budget when members are
// shown (members: the projection keeps them) on a cursor-paged page (defaultMemberBudget). Member counts come from the slices, before anything is
// rendered. A cursor-paged response continues after the last team it holds
// (selection.nextCursor).
func (s *Server) groupPage(p listParams, members bool, sel []listed[*rosterv1.OrgTeam],
	listing func(*rosterv1.OrgTeam) (membership.Listing, error), render func(membership.Listing) (listItem, error),
) ([]listItem, error) {
	budget := s.memberBudget
	if budget <= 0 {
		budget = defaultMemberBudget
	}
	// Only a cursor-paged client is sure to continue after the last team it got.
	withMembers := p.Cursor != nil && members
	items := make([]listItem, 0, len(sel))
	used := 0
	for _, e := range sel {
		l, err := listing(e.obj)
		if err != nil {
			return nil, err
		}
		if withMembers {
			n := l.Count()
			if len(items) > 0 && used+n > budget {
				break // the rest is for the next page
			}
			used += n
		}
		item, err := render(l)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, nil
}

// mentionsMembers reports whether a filter refers to the members attribute.
func mentionsMembers(e filter.Expr) bool { return e != nil && filter.Refers(e, "members") }

// candidateTeams returns the teams a filter can match when it has an indexed equality conjunct
// (displayName, externalId, id, members.value), found through that index; indexed is false
// otherwise (every team can match).
func (s *Server) candidateTeams(c *gin.Context, f filter.Expr) (teams []rosterv1.OrgTeam, indexed bool, err error) {
	ctx, ns := c.Request.Context(), orgOf(c).Spec.Namespace
	for _, term := range filter.EqualityTerms(f) {
		value, ok := term.Value.(string)
		if !ok {
			continue
		}
		switch strings.ToLower(term.Path.String()) {
		case "displayname", strings.ToLower(schema.GroupSchema + ":displayName"):
			teams, err = s.dir.Teams(ctx, ns, index.TeamsNamed(value))
		case "externalid":
			teams, err = s.dir.Teams(ctx, ns, index.TeamsWithExternalID(value))
		case "id":
			t, err := s.dir.GetTeam(ctx, ns, value)
			if err != nil {
				return nil, true, ignoreNotFound(err)
			}
			return []rosterv1.OrgTeam{*t}, true, nil
		case "members.value", "members":
			// Member ids are object names, lowercase; members.value compares ignoring case.
			teams, err = s.dir.TeamsWithMember(ctx, ns, naming.Fold(value))
		default:
			continue
		}
		return teams, true, err
	}
	return nil, false, nil
}

// groupInput is a validated Group body: its document without members, and its member ids.
type groupInput struct {
	displayName, externalID string
	members                 []string
	// doc is the normalized body without members; extensions its custom extension values.
	doc        map[string]any
	extensions rosterv1.ExtensionValues
}

// readGroup reads, decodes and validates a POST/PUT Group body.
//
// Members are taken out before the rest is decoded and normalized: a PUT can carry 100,000 of
// them, which are read straight from the body's bytes (patch.DocumentMemberIDs, the rules and
// errors of PATCH member lists).
func (s *Server) readGroup(c *gin.Context) (groupInput, error) {
	body, err := readBody(c)
	if err != nil {
		return groupInput{}, err
	}
	raw, rawMembers, err := document.DecodeExcept(body, "members")
	if err != nil {
		return groupInput{}, err
	}
	var members []string
	var membersErr error
	if rawMembers != nil {
		members, membersErr = patch.DocumentMemberIDs(rawMembers)
		// Bad JSON anywhere is the body's first error; a bad member comes after the fields'.
		if e, ok := scimerror.As(membersErr); ok && e.ScimType == scimerror.InvalidSyntax {
			return groupInput{}, membersErr
		}
	}
	s.noteUnknown(c, orgschema.UnknownURNs(groupType(c), raw))
	doc, err := schema.Normalize(groupType(c), raw)
	if err != nil {
		return groupInput{}, err
	}
	in := groupInput{doc: doc, extensions: document.GroupExtensions(doc), members: members}
	if in.displayName, in.externalID, err = document.GroupFields(doc); err != nil {
		return in, err
	}
	return in, membersErr
}

// createGroup serves POST /Groups.
func (s *Server) createGroup(c *gin.Context) {
	in, err := s.readGroup(c)
	if err != nil {
		writeError(c, err)
		return
	}
	t, err := s.dir.CreateTeamWithSpec(c.Request.Context(), orgOf(c),
		rosterv1.OrgTeamSpec{DisplayName: in.displayName, ExternalID: in.externalID, Extensions: in.extensions}, in.members)
	if err != nil {
		s.audit(c, "create", "Group", "") // nothing was created: no id to name
		writeError(c, groupErr(err, ""))
		return
	}
	s.audit(c, "create", "Group", t.Name)
	c.Header("Location", s.resourceURL(c, "Groups", t.Name))
	s.writeGroup(c, http.StatusCreated, t)
}

// replaceGroup serves PUT /Groups/{id}: display name, externalId and members replaced.
func (s *Server) replaceGroup(c *gin.Context) {
	in, err := s.readGroup(c)
	if err != nil {
		writeError(c, err)
		return
	}
	s.changeGroup(c, "replace", directory.TeamChange{
		Spec: func(cur rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error) {
			next := document.GroupSpec(cur, in.displayName, in.externalID)
			next.Extensions = in.extensions
			err := orgschema.Update(groupType(c), teamDoc(c.Param("id"), cur), in.doc, cur.Extensions, &next.Extensions)
			return next, err
		},
		Members: []patch.MemberOp{{Kind: patch.MemberReplace, Values: in.members}},
	}, true)
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
	change := directory.TeamChange{Members: memberOps}
	if len(rest) > 0 {
		id := c.Param("id")
		rt := groupType(c)
		s.noteUnknown(c, orgschema.UnknownPatchURNs(rt, rest))
		change.Spec = func(cur rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error) {
			doc := teamDoc(id, cur)
			out, err := patch.Apply(rt, doc, rest)
			if err != nil {
				return cur, err
			}
			name, ext, err := document.GroupFields(out)
			if err != nil {
				return cur, err
			}
			next := document.GroupSpec(cur, name, ext)
			next.Extensions = document.GroupExtensions(out)
			err = orgschema.Update(rt, doc, out, cur.Extensions, &next.Extensions)
			return next, err
		}
	}
	attrs, excluded := projection(c)
	s.changeGroup(c, "patch", change, len(attrs) > 0 || len(excluded) > 0)
}

// teamDoc is the Group document of a team spec without members and meta, as a PATCH or PUT
// is planned against.
func teamDoc(id string, spec rosterv1.OrgTeamSpec) map[string]any {
	doc := map[string]any{"schemas": []any{schema.GroupSchema}, "id": id, "displayName": spec.DisplayName}
	if spec.ExternalID != "" {
		doc["externalId"] = spec.ExternalID
	}
	document.AddGroupExtensions(doc, spec.Extensions)
	return doc
}

// changeGroup hands a team change to the directory and answers 204 (with the new ETag), or
// 200 with the group when respond is set.
func (s *Server) changeGroup(c *gin.Context, op string, change directory.TeamChange, respond bool) {
	ctx, id := c.Request.Context(), c.Param("id")
	t, err := s.dir.UpdateTeam(ctx, orgOf(c).Spec.Namespace, id, ifMatch(c), change)
	s.audit(c, op, "Group", id)
	if err != nil {
		writeError(c, groupErr(err, id))
		return
	}
	if !respond {
		if v, err := s.dir.View(ctx, t); err == nil {
			c.Header("ETag", document.ETag(v.Version))
		}
		c.Status(http.StatusNoContent)
		return
	}
	s.writeGroup(c, http.StatusOK, t)
}

// deleteGroup serves DELETE /Groups/{id} (204): the team, its member slices and its name claim.
func (s *Server) deleteGroup(c *gin.Context) {
	id := c.Param("id")
	err := s.dir.DeleteTeam(c.Request.Context(), orgOf(c).Spec.Namespace, id, ifMatch(c))
	s.audit(c, "delete", "Group", id)
	if err != nil {
		writeError(c, groupErr(err, id))
		return
	}
	c.Status(http.StatusNoContent)
}
