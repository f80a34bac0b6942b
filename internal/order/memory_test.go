package order

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

const (
	// memoryUsers is how many users TestIndexMemory indexes.
	memoryUsers = 20_000
	// maxBytesPerUser bounds what the index keeps per user: 279 bytes measured with intrusive
	// treaps and the one-user email map (434 before them).
	maxBytesPerUser = 320
)

// TestIndexMemory measures the live bytes the ordered index keeps per user (the users' objects
// are built before the first reading and excluded), for users like hack/bench's (userName,
// displayName, externalId, one email). It reports the figure (docs/benchmarks.md, "Memory")
// and fails above a bound that the intrusive treap keeps with room to spare.
func TestIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few MiB")
	}
	start := time.Unix(1_800_000_000, 0)
	users := make([]*rosterv1.OrgUser, memoryUsers)
	for i := range users {
		name := fmt.Sprintf("user%06d@example.com", i)
		users[i] = &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{
			Namespace: "org", Name: naming.UserObjectName(name), ResourceVersion: fmt.Sprint(i + 1),
			CreationTimestamp: metav1.NewTime(start.Add(time.Duration(i/50) * time.Second)),
		}, Spec: rosterv1.OrgUserSpec{
			UserName: name, ExternalID: fmt.Sprintf("00u%06d", i), DisplayName: fmt.Sprintf("User %d", i),
			Emails: []rosterv1.MultiValued{{Value: name, Type: "work"}},
		}}
	}
	// The cache's form of each user, made before the measure: the index points at it.
	slim := make([]*slimuser.User, len(users))
	for i, u := range users {
		slim[i] = slimuser.New(u)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x := New()
	for _, u := range slim {
		x.apply(u, false)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(slim)
	perUser := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / memoryUsers
	var held int
	_ = x.Users("org", func(l *List) error { held = l.Len(); return nil })
	runtime.KeepAlive(x)
	if held != memoryUsers {
		t.Fatalf("index holds %d users, want %d", held, memoryUsers)
	}
	t.Logf("ordered index: %.0f bytes per user (%d users: userName, displayName, externalId, one email)", perUser, memoryUsers)
	if perUser > maxBytesPerUser {
		t.Errorf("ordered index keeps %.0f bytes per user, want at most %d", perUser, maxBytesPerUser)
	}
}
