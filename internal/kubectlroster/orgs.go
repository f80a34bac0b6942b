package kubectlroster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/token"
)

// Org is one line of `kubectl roster orgs` (-o json / yaml items).
type Org struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	SCIM        string `json:"scim"`
	Users       int32  `json:"users"`
	ActiveUsers int32  `json:"activeUsers"`
	Teams       int32  `json:"teams"`
	// Token is "configured", "none" (no token Secret or no hash in it) or "unknown" (the
	// token Secret in Roster's namespace cannot be read with these credentials).
	Token string `json:"token"`
	// TokenRotatedAt is from the token Secret; StatusTokenRotatedAt is what the Organization's
	// status recorded (readable without access to Roster's namespace).
	TokenRotatedAt       *time.Time `json:"tokenRotatedAt,omitempty"`
	StatusTokenRotatedAt *time.Time `json:"statusTokenRotatedAt,omitempty"`
	// LastSCIMWrite is the newest scim.roster.dev/last-modified of the organization's users,
	// teams and member slices: the last change the identity provider made. Only with -o wide,
	// json or yaml (it reads every object's metadata).
	LastSCIMWrite *time.Time `json:"lastSCIMWrite,omitempty"`
	// LastRequest is the Organization's status.lastRequestTime: the last authenticated SCIM
	// request (reads included) any replica served, recorded at most once a minute.
	LastRequest *time.Time         `json:"lastRequest,omitempty"`
	Conditions  []metav1.Condition `json:"conditions,omitempty"`
}

// orgs prints every organization's health.
func (s *session) orgs(ctx context.Context, p printer, format string) error {
	var orgs rosterv1.OrganizationList
	if err := s.c.List(ctx, &orgs); err != nil {
		return fmt.Errorf("listing organizations: %w", err)
	}
	p.header([]string{"NAME", "NAMESPACE", "SCIM", "USERS", "ACTIVE", "TEAMS", "READY", "SYNCED", "TOKEN-AGE", "LAST-REQUEST"},
		[]string{"TOKEN-ROTATED", "LAST-SCIM-WRITE", "MESSAGE"})
	now := time.Now()
	for i := range orgs.Items {
		o := &orgs.Items[i]
		item := &Org{Name: o.Name, Namespace: o.Spec.Namespace, SCIM: string(o.Spec.SCIM), Users: o.Status.Users,
			ActiveUsers: o.Status.ActiveUsers, Teams: o.Status.Teams, Conditions: o.Status.Conditions}
		if item.SCIM == "" {
			item.SCIM = string(rosterv1.SCIMEnabled)
		}
		if at := o.Status.TokenRotatedAt; at != nil {
			item.StatusTokenRotatedAt = &at.Time
		}
		lastRequest := "<none>"
		if at := o.Status.LastRequestTime; at != nil {
			item.LastRequest = &at.Time
			lastRequest = duration.HumanDuration(now.Sub(at.Time))
		}
		if err := s.tokenOf(ctx, o.Name, item); err != nil {
			return err
		}
		if format != "" && format != "table" {
			at, err := s.lastSCIMWrite(ctx, o.Spec.Namespace)
			if err != nil {
				return err
			}
			item.LastSCIMWrite = at
		}
		tokenAge := item.Token
		if item.TokenRotatedAt != nil {
			tokenAge = duration.HumanDuration(now.Sub(*item.TokenRotatedAt))
		}
		message := "<none>"
		if c := meta.FindStatusCondition(o.Status.Conditions, rosterv1.ConditionReady); c != nil && c.Status != metav1.ConditionTrue {
			message = c.Message
		}
		err := p.add(row{item: item,
			cells: []string{o.Name, o.Spec.Namespace, item.SCIM, fmt.Sprint(item.Users), fmt.Sprint(item.ActiveUsers), fmt.Sprint(item.Teams),
				conditionStatus(o.Status.Conditions, rosterv1.ConditionReady), conditionStatus(o.Status.Conditions, rosterv1.ConditionSynced), tokenAge, lastRequest},
			wide: []string{timeOrNone(item.StatusTokenRotatedAt), timeOrNone(item.LastSCIMWrite), message}})
		if err != nil {
			return err
		}
	}
	return p.close()
}

// tokenOf reads the organization's token Secret in Roster's namespace. Tenants and most
// people have no access there: that is "unknown", not a failure.
func (s *session) tokenOf(ctx context.Context, org string, item *Org) error {
	var secret corev1.Secret
	err := s.c.Get(ctx, token.SecretKey(s.o.rosterNamespace, org), &secret)
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		item.Token = "unknown"
	case apierrors.IsNotFound(err):
		item.Token = "none"
	case err != nil:
		return fmt.Errorf("reading the token Secret of organization %q: %w", org, err)
	case !token.Configured(&secret) || !token.ForOrg(&secret, org):
		item.Token = "none"
	default:
		item.Token = "configured"
		if at, ok := token.RotatedAt(&secret); ok {
			item.TokenRotatedAt = &at
		}
	}
	return nil
}

// lastSCIMWrite is the newest last-modified stamp among the namespace's users, teams and
// member slices, read as metadata only, a page at a time.
func (s *session) lastSCIMWrite(ctx context.Context, ns string) (*time.Time, error) {
	var newest *time.Time
	for _, kind := range []string{"OrgUserList", "OrgTeamList", "OrgTeamMemberSliceList"} {
		newList := func() *metav1.PartialObjectMetadataList {
			l := &metav1.PartialObjectMetadataList{}
			l.SetGroupVersionKind(rosterv1.GroupVersion.WithKind(kind))
			return l
		}
		err := eachPage(ctx, s.c, newList, userPage, []client.ListOption{client.InNamespace(ns)}, func(l *metav1.PartialObjectMetadataList) error {
			for i := range l.Items {
				if _, ok := l.Items[i].Annotations[rosterv1.LastModifiedAnnotation]; !ok {
					continue
				}
				if t := directory.LastModified(&l.Items[i]); newest == nil || t.After(*newest) {
					newest = &t
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the metadata of namespace %q's %s: %w", ns, kind, err)
		}
	}
	return newest, nil
}

func timeOrNone(t *time.Time) string {
	if t == nil {
		return "<none>"
	}
	return t.UTC().Format(time.RFC3339)
}
