# syntax=docker/dockerfile:1
# Roster's container image: `docker build -t ghcr.io/rosterhq/roster:dev .`
#
# NOTE: this Dockerfile has not been built where it was written (that machine has no Docker
# engine); it is kept correct by inspection. config/manager expects the binary at /roster
# running as 65532:65532, and `roster manager` as its first argument.

# Build on the builder's own platform and cross-compile: pure Go (CGO_ENABLED=0; the sqlite
# identity store is modernc.org/sqlite, no cgo), so no emulation is needed for other arches.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

# Sources, including the files the binary embeds (config/crd/bases/*.yaml and the identity
# store migrations); .dockerignore keeps everything else out of the build context.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/roster .

# No shell, no package manager; the nonroot variant's user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/roster /roster
USER 65532:65532
ENTRYPOINT ["/roster"]
