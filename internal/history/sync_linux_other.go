//go:build linux && !amd64 && !arm64

package history

const sysSyncfs = 0 // use per-file fsync
