//go:build !unix

package datadir

// Lock is a no-op where flock(2) does not exist.
func Lock(string, string) (func(), error) { return func() {}, nil }
