package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// SliceWriter creates and updates member slices. On success the slice holds the metadata the
// apiserver gave it (name, uid, resourceVersion, …); its spec is the one sent.
type SliceWriter interface {
	Create(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error
	Update(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error
}

// MetadataSliceWriter writes slices asking the apiserver to answer with the object's
// metadata only (Accept: …;as=PartialObjectMetadata), as it does for lists and gets.
//
// Why: a full slice is ~75 KB of JSON (2,000 members). With the usual client, every write of
// it is answered with the whole object, which the apiserver encodes and the client decodes
// again, only for its resourceVersion; a 100,000-member PUT writes 50 of them.
type MetadataSliceWriter struct {
	rest rest.Interface
}

// metadataOnly asks for the response as PartialObjectMetadata (JSON).
const metadataOnly = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// NewMetadataSliceWriter returns a writer that talks to the apiserver of cfg through hc.
func NewMetadataSliceWriter(cfg *rest.Config, hc *http.Client) (*MetadataSliceWriter, error) {
	c := rest.CopyConfig(cfg)
	gv := rosterv1.GroupVersion
	c.GroupVersion, c.APIPath = &gv, "/apis"
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientForConfigAndClient(c, hc)
	if err != nil {
		return nil, err
	}
	return &MetadataSliceWriter{rest: rc}, nil
}

// Create creates sl (GenerateName or Name set) in its namespace.
func (w *MetadataSliceWriter) Create(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return w.do(ctx, w.rest.Post().Namespace(sl.Namespace).Resource("orgteammemberslices"), sl)
}

// Update replaces sl, at its resourceVersion.
func (w *MetadataSliceWriter) Update(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return w.do(ctx, w.rest.Put().Namespace(sl.Namespace).Resource("orgteammemberslices").Name(sl.Name), sl)
}

func (w *MetadataSliceWriter) do(ctx context.Context, req *rest.Request, sl *rosterv1.OrgTeamMemberSlice) error {
	out := *sl
	out.APIVersion, out.Kind = rosterv1.GroupVersion.String(), "OrgTeamMemberSlice"
	body, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	raw, err := req.Body(body).SetHeader("Content-Type", "application/json").
		SetHeader("Accept", metadataOnly).Do(ctx).Raw()
	if err != nil {
		// A refusal's body is a Status, which the REST client does not decode under this
		// Accept (its error would say "unknown"): decode it, so that callers see the
		// apiserver's reason and message as with the usual client.
		var st metav1.Status
		if json.Unmarshal(raw, &st) == nil && st.Kind == "Status" && st.Status == metav1.StatusFailure {
			return apierrors.FromObject(&st)
		}
		return err
	}
	var meta metav1.PartialObjectMetadata
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("reading the apiserver's answer to a slice write: %w", err)
	}
	// Any answer with the written object's metadata will do: a proxy that drops the Accept's
	// parameters gets the whole slice back, whose metadata decodes the same. Refusing it
	// would report a write that was made as failed (and a create retried makes a second
	// slice: creates use generateName).
	if meta.ResourceVersion == "" || meta.Name == "" {
		return fmt.Errorf("the apiserver answered a slice write with %q without its metadata", meta.Kind)
	}
	sl.ObjectMeta = meta.ObjectMeta
	return nil
}

// sliceWriter is SliceWrites, or Writer.
func (s *Store) sliceWriter() SliceWriter {
	if s.SliceWrites != nil {
		return s.SliceWrites
	}
	return clientSliceWriter{s.Writer}
}

// clientSliceWriter writes slices with a controller-runtime client (full objects back).
type clientSliceWriter struct{ c client.Client }

func (w clientSliceWriter) Create(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return w.c.Create(ctx, sl)
}

func (w clientSliceWriter) Update(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return w.c.Update(ctx, sl)
}
