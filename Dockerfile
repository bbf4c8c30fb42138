# syntax=docker/dockerfile:1
# Tape in a container: a static binary with the complete dashboard, on a
# distroless base (no shell, no package manager), running as a non-root
# user, its data in the /data volume. docs/releases.md has the details.
#
#   docker build -t tape \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run -p 8080:8080 -v tape-data:/data -e TAPE_AUTH_KEY=AK -e TAPE_AUTH_SECRET=SK tape
#
# It listens on 0.0.0.0:8080 inside the container, which Tape refuses to do
# without API keys: give them as TAPE_AUTH_KEY and TAPE_AUTH_SECRET (or
# mount a file and pass --auth-file). Flags go after the image name:
#   docker run ... tape serve --speed 60

# The dashboard's chart library, exactly as web/package-lock.json pins it.
FROM node:22-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# A static binary (no cgo) that embeds it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js \
     internal/webui/static/vendor/
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/tape ./cmd/tape \
 && /out/tape version \
 && /out/tape version | grep -q 'dashboard  complete' \
 && mkdir /out/data

# distroless/static: CA certificates and time zones (for --feed alpaca),
# and the nonroot user, 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tape /usr/local/bin/tape
COPY --from=build --chown=65532:65532 /out/data /data
ENV TAPE_DATA=/data \
    TAPE_LISTEN=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tape"]
CMD ["serve"]
