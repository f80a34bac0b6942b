package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachescan"
)

var unresolvedDesc = prometheus.NewDesc("roster_unresolved_members",
	"Member ids the identity provider sent that are not users of the organization, summed over its teams (status.unresolvedMemberCount).",
	[]string{"org"}, nil)

// UnresolvedCollector reports, per organization, the unresolved members its teams' statuses
// record, at scrape time from the cache (every replica reports the same numbers). Every
// organization gets a series, 0 included, so an alert on it never sees the series vanish.
//
// Teams are walked in the informer's store (internal/cachescan), not listed: a cached List
// copies every team into a new list on each scrape, garbage that kept the collector of a
// manager near its memory limit busy at rest (docs/benchmarks.md, "At rest").
type UnresolvedCollector struct {
	// Reader is the manager's cache (any other reader is listed).
	Reader client.Reader
}

// Describe implements prometheus.Collector.
func (c *UnresolvedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- unresolvedDesc }

// Collect implements prometheus.Collector.
func (c *UnresolvedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var orgs rosterv1.OrganizationList
	if err := c.Reader.List(ctx, &orgs); err != nil {
		return
	}
	for i := range orgs.Items {
		org := &orgs.Items[i]
		var n int64
		err := cachescan.Each(ctx, c.Reader, &rosterv1.OrgTeamList{}, org.Spec.Namespace, func(t *rosterv1.OrgTeam) {
			if t.DeletionTimestamp == nil { // a team being deleted is moot
				n += int64(t.Status.UnresolvedMemberCount)
			}
		})
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(unresolvedDesc, prometheus.GaugeValue, float64(n), org.Name)
	}
}
