package kubectlroster

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// person is what the plugin prints about a user.
type person struct {
	userName, displayName, email string
	active                       bool
}

func personOf(u *rosterv1.OrgUser) *person {
	return &person{userName: u.Spec.UserName, displayName: displayName(u), email: u.Spec.PrimaryEmail(), active: u.Spec.IsActive()}
}

// displayName is the user's displayName, else the formatted name, else given and family name.
func displayName(u *rosterv1.OrgUser) string {
	if u.Spec.DisplayName != "" {
		return u.Spec.DisplayName
	}
	if n := u.Spec.Name; n != nil {
		if n.Formatted != "" {
			return n.Formatted
		}
		return strings.TrimSpace(n.GivenName + " " + n.FamilyName)
	}
	return ""
}

// people looks users up by id. There is no batch GET by name in Kubernetes, so a large team
// is resolved against one paged list of the organization's users, and a small one by a GET
// per member.
type people interface {
	lookup(ctx context.Context, ids []string) (map[string]*person, error)
}

// smallTeam is the member count up to which GETs beat listing every user of the org.
const smallTeam = 200

// everyone is the organization's users, listed once: memory is one short record per user of
// the org, whatever the team's size.
type everyone map[string]*person

func loadEveryone(ctx context.Context, c client.Reader, namespace string) (everyone, error) {
	all := everyone{}
	err := eachPage(ctx, c, newUserList, userPage, []client.ListOption{client.InNamespace(namespace)}, func(l *rosterv1.OrgUserList) error {
		for i := range l.Items {
			all[l.Items[i].Name] = personOf(&l.Items[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the users of namespace %q: %w", namespace, err)
	}
	return all, nil
}

func (e everyone) lookup(_ context.Context, ids []string) (map[string]*person, error) {
	out := make(map[string]*person, len(ids))
	for _, id := range ids {
		if p := e[id]; p != nil {
			out[id] = p
		}
	}
	return out, nil
}

// oneByOne GETs each member, a few at a time.
type oneByOne struct {
	c         client.Reader
	namespace string
}

func (o oneByOne) lookup(ctx context.Context, ids []string) (map[string]*person, error) {
	out := make(map[string]*person, len(ids))
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range work {
				var u rosterv1.OrgUser
				err := o.c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: id}, &u)
				mu.Lock()
				switch {
				case err == nil:
					out[id] = personOf(&u)
				case !apierrors.IsNotFound(err) && firstErr == nil:
					firstErr = fmt.Errorf("reading user %s: %w", id, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return out, firstErr
}
