package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The OCI 1.1 artifact media types: the SBOM is the artifact's one layer, with the empty
// config the spec prescribes for artifacts without one.
const (
	spdxMediaType  types.MediaType = "application/spdx+json"
	emptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"
)

// writeSBOMArtifact writes an OCI layout at dir holding one artifact manifest: the SBOM, with
// the image as its subject. Pushed to a registry with the OCI referrers API, it is listed
// among the image's referrers (what `oras discover` and `cosign tree` show). The image and
// its SBOM live in separate layouts so each is pushed with a plain `crane push DIR REF`.
func writeSBOMArtifact(dir string, sbom []byte, subject v1.Descriptor, created string) (v1.Hash, error) {
	emptyConfig := []byte("{}")
	config, err := blobDescriptor(emptyMediaType, emptyConfig)
	if err != nil {
		return v1.Hash{}, err
	}
	config.Data = emptyConfig
	layer, err := blobDescriptor(spdxMediaType, sbom)
	if err != nil {
		return v1.Hash{}, err
	}
	layer.Annotations = map[string]string{"org.opencontainers.image.title": "sbom.spdx.json"}
	manifest, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  string(spdxMediaType),
		Config:        config,
		Layers:        []v1.Descriptor{layer},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		Annotations:   map[string]string{"org.opencontainers.image.created": created},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := blobDescriptor(types.OCIManifestSchema1, manifest)
	if err != nil {
		return v1.Hash{}, err
	}
	desc.ArtifactType = string(spdxMediaType)

	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	for _, b := range []struct {
		d    v1.Descriptor
		data []byte
	}{{config, emptyConfig}, {layer, sbom}, {desc, manifest}} {
		if err := lp.WriteBlob(b.d.Digest, io.NopCloser(bytes.NewReader(b.data))); err != nil {
			return v1.Hash{}, fmt.Errorf("writing the SBOM layout: %w", err)
		}
	}
	if err := lp.AppendDescriptor(desc); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the SBOM layout: %w", err)
	}
	return desc.Digest, nil
}

func blobDescriptor(mt types.MediaType, data []byte) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: n, Digest: h}, nil
}
