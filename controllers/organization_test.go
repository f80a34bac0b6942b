package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/token"
)

func orgCondition(t *testing.T, name, condType string) (*metav1.Condition, rosterv1.Organization) {
	t.Helper()
	var org rosterv1.Organization
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &org); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(org.Status.Conditions, condType), org
}

// TestOrganizationStatus: Ready says why SCIM cannot serve an org (no namespace, no token),
// the user, active-user and team counts follow creates and deletes, and an old token turns
// TokenFresh False with a warning event.
func TestOrganizationStatus(t *testing.T) {
	ctx := context.Background()
	env.StartRoster(t, func(c *app.Config) { c.TokenMaxAge = time.Hour })
	name := fmt.Sprintf("orgstatus-%d", time.Now().UnixNano()%100000)
	org := &rosterv1.Organization{}
	org.Name, org.Spec.Namespace = name, name
	if err := env.Client.Create(ctx, org); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		c, _ := orgCondition(t, name, rosterv1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == controllers.ReasonNamespaceMissing, fmt.Sprintf("Ready = %+v", c)
	})
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	eventually(t, 45*time.Second, func() (bool, string) {
		c, _ := orgCondition(t, name, rosterv1.ConditionReady)
		return c != nil && c.Reason == controllers.ReasonTokenMissing, fmt.Sprintf("Ready = %+v", c)
	})
	if _, err := token.Rotate(ctx, env.Client, token.DefaultNamespace, name, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		ready, o := orgCondition(t, name, rosterv1.ConditionReady)
		fresh, _ := orgCondition(t, name, controllers.ConditionTokenFresh)
		ok := ready != nil && ready.Status == metav1.ConditionTrue && o.Status.TokenRotatedAt != nil &&
			fresh != nil && fresh.Status == metav1.ConditionTrue
		return ok, fmt.Sprintf("Ready = %+v, TokenFresh = %+v", ready, fresh)
	})

	// Counts follow users and teams as they come and go.
	if _, o := orgCondition(t, name, rosterv1.ConditionReady); o.Status.Users != 0 || o.Status.ActiveUsers != 0 || o.Status.Teams != 0 {
		t.Fatalf("an empty org counts %d users (%d active) and %d teams", o.Status.Users, o.Status.ActiveUsers, o.Status.Teams)
	}
	inactive := false
	var users []*rosterv1.OrgUser
	for i, active := range []*bool{nil, nil, &inactive} {
		u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: fmt.Sprintf("count%d@example.com", i), Active: active}}
		u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), name
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var teams []*rosterv1.OrgTeam
	for i := range 2 {
		team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: fmt.Sprintf("Count %d", i)}}
		team.Name, team.Namespace = naming.NewTeamObjectName(), name
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
		teams = append(teams, team)
	}
	wantCounts := func(users, active, teams int32) {
		t.Helper()
		eventually(t, 20*time.Second, func() (bool, string) {
			_, o := orgCondition(t, name, rosterv1.ConditionReady)
			st := o.Status
			return st.Users == users && st.ActiveUsers == active && st.Teams == teams,
				fmt.Sprintf("status counts %d users (%d active) and %d teams, want %d (%d) and %d", st.Users, st.ActiveUsers, st.Teams, users, active, teams)
		})
	}
	wantCounts(3, 2, 2)
	for _, o := range []client.Object{users[0], teams[1]} {
		if err := env.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	wantCounts(2, 1, 1)

	// Backdate the rotation: the token is now older than the allowed hour.
	var secret corev1.Secret
	if err := env.Client.Get(ctx, token.SecretKey(token.DefaultNamespace, name), &secret); err != nil {
		t.Fatal(err)
	}
	secret.Annotations[token.RotatedAtAnnotation] = time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	if err := env.Client.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		fresh, _ := orgCondition(t, name, controllers.ConditionTokenFresh)
		ready, _ := orgCondition(t, name, rosterv1.ConditionReady)
		ok := fresh != nil && fresh.Status == metav1.ConditionFalse && fresh.Reason == controllers.ReasonTokenTooOld &&
			ready != nil && ready.Status == metav1.ConditionTrue
		return ok, fmt.Sprintf("TokenFresh = %+v, Ready = %+v", fresh, ready)
	})
	eventually(t, 20*time.Second, func() (bool, string) {
		var events corev1.EventList
		_ = env.Client.List(ctx, &events, client.InNamespace("default"))
		for _, e := range events.Items {
			if e.InvolvedObject.Name == name && e.Reason == controllers.ReasonTokenTooOld && e.Type == corev1.EventTypeWarning {
				return true, ""
			}
		}
		return false, "no TokenTooOld warning event"
	})

	// A second organization naming the same namespace makes both not Ready.
	twin := &rosterv1.Organization{}
	twin.Name, twin.Spec.Namespace = name+"-twin", name
	if err := env.Client.Create(ctx, twin); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{name, twin.Name} {
		eventually(t, 20*time.Second, func() (bool, string) {
			c, _ := orgCondition(t, n, rosterv1.ConditionReady)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == controllers.ReasonNamespaceShared, fmt.Sprintf("%s Ready = %+v", n, c)
		})
	}
}
