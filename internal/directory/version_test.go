package directory_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
)

// TestUserVersionFormat pins the version clients hold in ETags: generation, "-", the UID's
// first 12 characters without dashes. A changed format would fail every If-Match they send.
func TestUserVersionFormat(t *testing.T) {
	for _, tc := range []struct {
		gen  int64
		uid  string
		want string
	}{
		{7, "4f1c0b7e-0000-4000-8000-000000000001", "7-4f1c0b7e0000"},
		{123456789012, "ab-c", "123456789012-abc"},
		{1, "", "1-"},
	} {
		u := &v1alpha1.OrgUser{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen, UID: types.UID(tc.uid)}}
		if got := directory.UserVersion(u); got != tc.want {
			t.Errorf("UserVersion(%d, %q) = %q, want %q", tc.gen, tc.uid, got, tc.want)
		}
	}
}

// TestLastModified: the annotation when it parses, else the creation time.
func TestLastModified(t *testing.T) {
	created := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		ann  map[string]string
		want time.Time
	}{
		{nil, created},
		{map[string]string{v1alpha1.LastModifiedAnnotation: "not a time"}, created},
		{map[string]string{v1alpha1.LastModifiedAnnotation: "2027-01-02T03:04:05.5Z"}, time.Date(2027, 1, 2, 3, 4, 5, 5e8, time.UTC)},
	} {
		u := &v1alpha1.OrgUser{ObjectMeta: metav1.ObjectMeta{Annotations: tc.ann, CreationTimestamp: metav1.NewTime(created)}}
		if got := directory.LastModified(u); !got.Equal(tc.want) {
			t.Errorf("LastModified(%v) = %v, want %v", tc.ann, got, tc.want)
		}
	}
}
