package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

var unresolvedDesc = prometheus.NewDesc("roster_unresolved_members",
	"Member ids the identity provider sent that are not users of the organization, summed over its teams (status.unresolvedMemberCount).",
	[]string{"org"}, nil)

// UnresolvedCollector reports, per organization, the unresolved members its teams' statuses
// record, at scrape time from the cache (every replica reports the same numbers). Every
// organization gets a series, 0 included, so an alert on it never sees the series vanish.
type UnresolvedCollector struct {
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
		var teams rosterv1.OrgTeamList
		// Shared with the cache, read only: a scrape must not copy every team.
		if err := c.Reader.List(ctx, &teams, client.InNamespace(org.Spec.Namespace), client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		var n int64
		for j := range teams.Items {
			if teams.Items[j].DeletionTimestamp == nil { // a team being deleted is moot
				n += int64(teams.Items[j].Status.UnresolvedMemberCount)
			}
		}
		ch <- prometheus.MustNewConstMetric(unresolvedDesc, prometheus.GaugeValue, float64(n), org.Name)
	}
}
