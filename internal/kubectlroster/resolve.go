package kubectlroster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
)

// session is one invocation's connection and the organization it is about.
type session struct {
	c client.Client
	o options
	// ns is the namespace the command was pointed at (-n, --org or the context's); org
	// resolves it to its Organization when a command needs one.
	ns       string
	nsSource string
}

// pageSize bounds every list request: a page of member slices is at most 50 × 2,000 ids
// (~4 MB), a page of users ~1,000 objects.
const (
	slicePage = 50
	userPage  = 1000
	objPage   = 500
)

func connect(o options) (*session, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	s := &session{o: o}
	switch {
	case o.namespace != "":
		s.ns, s.nsSource = o.namespace, "-n"
	case o.org == "":
		ns, _, err := cc.Namespace()
		if err != nil {
			return nil, fmt.Errorf("reading the kubeconfig context's namespace: %w", err)
		}
		s.ns, s.nsSource = ns, "the kubeconfig context"
	}
	// Reads of a few thousand pages must not wait on client-side throttling meant for
	// controllers.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 100, 200
	s.c, err = client.New(cfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return s, nil
}

// org returns the organization the command is about: --org by name, else the one whose
// spec.namespace is the namespace given (-n) or the context's.
func (s *session) org(ctx context.Context) (*rosterv1.Organization, error) {
	if s.o.org != "" {
		var org rosterv1.Organization
		if err := s.c.Get(ctx, client.ObjectKey{Name: s.o.org}, &org); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("no organization %q (kubectl get organizations lists them)", s.o.org)
			}
			return nil, fmt.Errorf("reading organization %q: %w", s.o.org, err)
		}
		s.ns = org.Spec.Namespace
		return &org, nil
	}
	// Organizations are few (one per tenant) and cluster-scoped: a plugin without the
	// manager's namespace index lists them.
	var orgs rosterv1.OrganizationList
	if err := s.c.List(ctx, &orgs); err != nil {
		return nil, fmt.Errorf("listing organizations to find the one of namespace %q: %w", s.ns, err)
	}
	var owners []rosterv1.Organization
	for _, o := range orgs.Items {
		if o.Spec.Namespace == s.ns {
			owners = append(owners, o)
		}
	}
	switch len(owners) {
	case 0:
		return nil, fmt.Errorf("no organization owns namespace %q (from %s); use -n NAMESPACE or --org NAME (kubectl get organizations lists them)", s.ns, s.nsSource)
	case 1:
		return &owners[0], nil
	default:
		names := make([]string, len(owners))
		for i, o := range owners {
			names[i] = o.Name
		}
		sort.Strings(names)
		return nil, fmt.Errorf("organizations %s all claim namespace %q; use --org NAME", strings.Join(names, ", "), s.ns)
	}
}

// findTeam resolves a team named by its id (g-…) or its display name (any case).
func (s *session) findTeam(ctx context.Context, org *rosterv1.Organization, name string) (*rosterv1.OrgTeam, error) {
	ns := org.Spec.Namespace
	var team rosterv1.OrgTeam
	if naming.IsTeamObjectName(name) {
		err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &team)
		if err == nil {
			return &team, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading team %q: %w", name, err)
		}
	}
	// A SCIM team's display name is claimed by an object named after it: one GET.
	var claim rosterv1.OrgTeamNameClaim
	err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: naming.TeamNameClaim(name)}, &claim)
	if err == nil && claim.Spec.Team != "" {
		err = s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: claim.Spec.Team}, &team)
		if err == nil && naming.Fold(team.Spec.DisplayName) == naming.Fold(name) {
			return &team, nil
		}
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading team %q: %w", name, err)
	}
	// Manual teams claim nothing: look through the teams, a page at a time.
	var found *rosterv1.OrgTeam
	err = eachPage(ctx, s.c, newTeamList, objPage, []client.ListOption{client.InNamespace(ns)}, func(l *rosterv1.OrgTeamList) error {
		for _, t := range l.Items {
			if naming.Fold(t.Spec.DisplayName) == naming.Fold(name) {
				found = t.DeepCopy()
				return errStop
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing teams of namespace %q: %w", ns, err)
	}
	if found == nil {
		return nil, fmt.Errorf("no team %q in organization %q (kubectl get orgteams -n %s lists them)", name, org.Name, ns)
	}
	return found, nil
}

// findUser resolves a user named by its userName (any case) or its id (u-…). A userName
// names exactly one object (naming.UserObjectName), so both are one GET.
func (s *session) findUser(ctx context.Context, org *rosterv1.Organization, name string) (*rosterv1.OrgUser, error) {
	ns := org.Spec.Namespace
	ids := []string{naming.UserObjectName(name)}
	if naming.IsUserObjectName(name) {
		ids = []string{name, ids[0]}
	}
	for _, id := range ids {
		var u rosterv1.OrgUser
		err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: id}, &u)
		if err == nil {
			return &u, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading user %q: %w", name, err)
		}
	}
	return nil, fmt.Errorf("no user %q in organization %q (kubectl get orgusers -n %s lists them)", name, org.Name, ns)
}

func newTeamList() *rosterv1.OrgTeamList             { return &rosterv1.OrgTeamList{} }
func newUserList() *rosterv1.OrgUserList             { return &rosterv1.OrgUserList{} }
func newSliceList() *rosterv1.OrgTeamMemberSliceList { return &rosterv1.OrgTeamMemberSliceList{} }

// errStop ends eachPage early without an error.
var errStop = errors.New("stop")

// eachPage lists a kind in pages of limit items and calls fn with each page until the last
// page or fn returns an error; errStop ends it quietly. Each page is decoded into a fresh
// list: decoding into a reused one could leave fields of the previous page's objects.
func eachPage[L client.ObjectList](ctx context.Context, c client.Reader, newList func() L, limit int64, opts []client.ListOption, fn func(L) error) error {
	cont := ""
	for {
		list := newList()
		o := append(append([]client.ListOption(nil), opts...), client.Limit(limit), client.Continue(cont))
		if err := c.List(ctx, list, o...); err != nil {
			return err
		}
		if err := fn(list); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}
