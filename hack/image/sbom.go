package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SPDX 2.3 JSON, the fields Roster's SBOM uses (https://spdx.github.io/spdx-spec/v2.3/).
type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name                  string            `json:"name"`
	SPDXID                string            `json:"SPDXID"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	LicenseConcluded      string            `json:"licenseConcluded"`
	LicenseDeclared       string            `json:"licenseDeclared"`
	CopyrightText         string            `json:"copyrightText"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
	Checksums             []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs,omitempty"`
	Comment               string            `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

// spdxDocument describes the image: the roster binary with the main module and every module
// linked into it (path, version and go.sum checksum, from the binary's build info), the Go
// standard library, and the CA bundle. Its timestamps and identifiers derive from the inputs,
// so it is as reproducible as the image.
func spdxDocument(st *stamp, binary, ca []byte, o options, tag name.Tag, digest v1.Hash) ([]byte, error) {
	binSum := sha256.Sum256(binary)
	caSum := sha256.Sum256(ca)
	doc := spdxDoc{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              "roster-" + st.version,
		DocumentNamespace: fmt.Sprintf("%s/sbom/%s/%s", strings.TrimSuffix(o.Source, "/"), url.PathEscape(st.version), digest.Hex),
		CreationInfo: spdxCreation{
			Created:  st.created.Format(time.RFC3339),
			Creators: []string{"Tool: roster-hack-image", "Organization: rosterhq"},
		},
		DocumentDescribes: []string{"SPDXRef-Image"},
	}
	repo := tag.Context()
	image := pkg("SPDXRef-Image", tag.RepositoryStr(), st.version, noAssertion, "CONTAINER")
	image.Checksums = []spdxChecksum{{"SHA256", digest.Hex}}
	image.ExternalRefs = []spdxExternalRef{purl(fmt.Sprintf("pkg:oci/%s@%s?repository_url=%s&tag=%s",
		lastPathElement(repo.RepositoryStr()), url.QueryEscape(digest.String()), url.QueryEscape(repo.Name()), url.QueryEscape(tag.TagStr())))}
	image.Comment = "the image manifest's digest"

	main := pkg("SPDXRef-Roster", st.info.Main.Path, st.version, "git+"+o.Source+"@"+st.commit, "APPLICATION")
	main.LicenseDeclared = o.Licenses
	main.Checksums = []spdxChecksum{{"SHA256", hex.EncodeToString(binSum[:])}}
	main.ExternalRefs = []spdxExternalRef{purl(goPURL(st.info.Main.Path, st.version))}
	main.Comment = fmt.Sprintf("/roster, built by %s for %s/%s; the checksum is the binary's", st.info.GoVersion, st.platform.OS, st.platform.Architecture)

	std := pkg("SPDXRef-Go-stdlib", "stdlib", st.info.GoVersion, "https://go.dev/dl/", "LIBRARY")
	std.LicenseDeclared = "BSD-3-Clause"
	std.ExternalRefs = []spdxExternalRef{purl(goPURL("stdlib", st.info.GoVersion))}

	cabundle := pkg("SPDXRef-CA-certificates", "ca-certificates.crt", "", noAssertion, "FILE")
	cabundle.Checksums = []spdxChecksum{{"SHA256", hex.EncodeToString(caSum[:])}}
	cabundle.Comment = "/etc/ssl/certs/ca-certificates.crt, copied from " + o.CACerts + " of the build machine"

	doc.Packages = []spdxPackage{image, main, std, cabundle}
	doc.Relationships = []spdxRelationship{
		{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"},
		{"SPDXRef-Image", "CONTAINS", "SPDXRef-Roster"},
		{"SPDXRef-Image", "CONTAINS", "SPDXRef-CA-certificates"},
		{"SPDXRef-Roster", "DEPENDS_ON", "SPDXRef-Go-stdlib"},
	}
	for i, m := range st.info.Deps {
		if m.Replace != nil {
			// What was compiled in is the replacement.
			m = m.Replace
		}
		id := fmt.Sprintf("SPDXRef-Go-%d-%s", i, spdxIDUnsafe.ReplaceAllString(m.Path, "-"))
		p := pkg(id, m.Path, m.Version, "https://proxy.golang.org/"+proxyEscape(m.Path)+"/@v/"+proxyEscape(m.Version)+".zip", "LIBRARY")
		if sum, err := h1Hex(m); err != nil {
			return nil, err
		} else if sum != "" {
			// go.sum's h1: is a SHA-256 (of the module's file hashes, not of the zip), in
			// base64; SPDX wants hex. cyclonedx-gomod records it the same way.
			p.Checksums = []spdxChecksum{{"SHA256", sum}}
			p.Comment = "go.sum " + m.Sum
		}
		p.ExternalRefs = []spdxExternalRef{purl(goPURL(m.Path, m.Version))}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Roster", "DEPENDS_ON", id})
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // the purls' & stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// proxyEscape is the module proxy's case encoding of a path or version: each capital letter
// becomes "!" and its lower case (github.com/NYTimes → github.com/!n!y!times).
func proxyEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// spdxIDUnsafe matches what an SPDX identifier may not contain.
var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func pkg(id, name, version, download, purpose string) spdxPackage {
	return spdxPackage{
		Name: name, SPDXID: id, VersionInfo: version, DownloadLocation: download,
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion, CopyrightText: noAssertion,
		PrimaryPackagePurpose: purpose,
	}
}

func purl(locator string) spdxExternalRef {
	return spdxExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: locator}
}

// goPURL is the package URL of a Go module (github.com/package-url/purl-spec, type golang).
func goPURL(path, version string) string {
	return "pkg:golang/" + path + "@" + url.PathEscape(version)
}

func lastPathElement(p string) string {
	return p[strings.LastIndex(p, "/")+1:]
}

// h1Hex converts a go.sum "h1:<base64>" checksum to hex; "" when the build info has none.
func h1Hex(m *debug.Module) (string, error) {
	if m.Sum == "" {
		return "", nil
	}
	b64, ok := strings.CutPrefix(m.Sum, "h1:")
	if !ok {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("module %s@%s: malformed checksum %q", m.Path, m.Version, m.Sum)
	}
	return hex.EncodeToString(raw), nil
}
