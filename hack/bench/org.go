package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/token"
)

type org struct{ name, token string }

// newOrg creates an organization and waits until the SCIM server accepts its token.
func (b *bench) newOrg(ctx context.Context, name string) (org, error) {
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := b.client.Create(ctx, ns); err != nil {
		return org{}, err
	}
	o := &rosterv1.Organization{}
	o.Name, o.Spec.Namespace = name, name
	if err := b.client.Create(ctx, o); err != nil {
		return org{}, err
	}
	tok, err := token.Rotate(ctx, b.client, token.DefaultNamespace, name, 0)
	if err != nil {
		return org{}, err
	}
	out := org{name: name, token: tok}
	c := b.scimClient(out)
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		status, _, err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", "")
		return err == nil && status == http.StatusOK, nil
	})
	return out, err
}

type scimClient struct {
	base, token string
	http        *http.Client
}

var transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}

func (b *bench) scimClient(o org) *scimClient {
	return &scimClient{base: b.baseURL + "/scim/v2/" + o.name, token: o.token, http: &http.Client{Transport: transport}}
}

func (c *scimClient) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// createUsers POSTs users 0..n-1 (userBody) through SCIM, eight at a time.
func (c *scimClient) createUsers(ctx context.Context, n int) error {
	_, err := parallel(n, 8, func(i int) error {
		status, body, err := c.do(ctx, http.MethodPost, "/Users", userBody(i))
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("POST /Users: %d %s", status, body)
		}
		return err
	})
	return err
}
