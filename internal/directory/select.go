package directory

import (
	"context"

	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/slimuser"
)

// SelectUsers selects a page of a namespace's users from the ordered index (internal/order),
// once the index holds this replica's own writes. The entries point at cached objects: read
// only.
func (d *Directory) SelectUsers(ctx context.Context, namespace string, q order.Query) (order.Page, error) {
	return d.selectPage(ctx, namespace, kindUser, q)
}

// SelectTeams selects a page of a namespace's SCIM-managed teams, as SelectUsers does.
func (d *Directory) SelectTeams(ctx context.Context, namespace string, q order.Query) (order.Page, error) {
	return d.selectPage(ctx, namespace, kindTeam, q)
}

// IndexSynced reports whether the ordered index has applied the cache's initial lists (always
// true without an index): the SCIM server serves, and reports ready, only once it has.
func (d *Directory) IndexSynced() bool { return d == nil || d.order == nil || d.order.HasSynced() }

func (d *Directory) selectPage(ctx context.Context, namespace, kind string, q order.Query) (page order.Page, err error) {
	read := func(l *order.List) error {
		page, err = l.Select(q)
		return err
	}
	if d.order == nil {
		l, err := d.listOrder(ctx, namespace, kind)
		if err != nil {
			return order.Page{}, err
		}
		return page, read(l)
	}
	d.awaitOwnWrites(ctx, namespace, kind)
	// The index's handler runs on a goroutine of its own and can lag the cache: wait until it
	// has applied everything the cache has — this replica's writes above, and the deletes
	// awaitGone saw the cache deliver.
	index, cached := d.order.UsersProgress, d.own.progress[kindUser]
	if kind == kindTeam {
		index, cached = d.order.TeamsProgress, d.own.progress[kindTeam]
	}
	awaitIndex(ctx, namespace, index, cached)
	if kind == kindTeam {
		return d.order.SelectTeams(namespace, q)
	}
	return d.order.SelectUsers(namespace, q)
}

// awaitIndex waits until index has applied every revision the cache had delivered when called.
func awaitIndex(ctx context.Context, namespace string, index, cached *cachewatch.Progress) {
	want, ok := cached.SeenIn(namespace)
	if seen, _ := index.SeenIn(namespace); ok && seen < want {
		index.AwaitIn(ctx, namespace, want, ownWaitTimeout)
	}
}

// listOrder builds a throwaway ordered list from the cache: for a Directory built without an
// index (Options.Order), at O(n log n) per request.
func (d *Directory) listOrder(ctx context.Context, namespace, kind string) (*order.List, error) {
	x := order.New()
	if kind == kindTeam {
		teams, err := d.Teams(ctx, namespace, nil)
		for i := range teams {
			x.PutTeam(&teams[i])
		}
		var l *order.List
		_ = x.Teams(namespace, func(tl *order.List) error { l = tl; return nil })
		return l, err
	}
	users, err := d.Users(ctx, namespace)
	for i := range users {
		x.PutUser(slimuser.New(&users[i]))
	}
	var l *order.List
	_ = x.Users(namespace, func(ul *order.List) error { l = ul; return nil })
	return l, err
}
