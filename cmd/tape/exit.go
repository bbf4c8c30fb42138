package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tapehq/tape/internal/datadir"
)

// Exit codes, the same for every command (tape --help lists them).
const (
	exitFailed = 1 // the command failed
	exitUsage  = 2 // the command line is wrong: a flag, a value, an argument
	// exitNeverConnected: tape watch stopped (--duration, Ctrl-C) without
	// ever having connected: the server was down or kept failing.
	exitNeverConnected = 3
)

// exitError carries an exit code other than exitFailed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process's exit status for the error a command returned.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

// usageErrorf is a wrong command line: exit status 2.
func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// flagError turns pflag's parse errors, which end in Go's parser text
// (`strconv.ParseInt: parsing "abc": invalid syntax`), into what the flag
// expects with an example, and marks them as usage errors. src is where
// the value came from: srcFlags, srcEnv or a config file's "path:line".
func flagError(err error, src string) error {
	var ive *pflag.InvalidValueError
	var vre *pflag.ValueRequiredError
	switch {
	case errors.As(err, &ive):
		f := ive.GetFlag()
		s := setting{f: f, src: src}
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %s", s.is(ive.GetValue()), expects(s, ive.Unwrap()))}
	case errors.As(err, &vre):
		f := vre.GetFlag()
		return &exitError{code: exitUsage, err: fmt.Errorf("--%s needs a value: %s", f.Name, expects(setting{f: f}, nil))}
	}
	if src != srcFlags && src != srcEnv {
		err = fmt.Errorf("config %s: %w", src, err)
	}
	return &exitError{code: exitUsage, err: err}
}

// Where a flag's value came from, for flagError.
const (
	srcFlags = ""
	srcEnv   = "env"
)

// setting is a flag as the user wrote it: on the command line, as a
// TAPE_* variable or in a config file.
type setting struct {
	f   *pflag.Flag
	src string
}

// is names the setting with value v: --seed "abc", TAPE_SEED="abc",
// config tape.conf:3: seed = "abc".
func (s setting) is(v string) string {
	switch s.src {
	case srcFlags:
		return fmt.Sprintf("--%s %q", s.f.Name, v)
	case srcEnv:
		return fmt.Sprintf("%s=%q", envName(s.f.Name), v)
	}
	return fmt.Sprintf("config %s: %s = %q", s.src, s.f.Name, v)
}

// like is an example of the setting with value v.
func (s setting) like(v string) string {
	switch s.src {
	case srcFlags:
		if s.f.Value.Type() == "bool" {
			return fmt.Sprintf("--%s=%s", s.f.Name, v)
		}
		return fmt.Sprintf("--%s %s", s.f.Name, v)
	case srcEnv:
		return envName(s.f.Name) + "=" + v
	}
	return s.f.Name + " = " + v
}

// envName is the variable that sets flag name: TAPE_POLL_INTERVAL.
func envName(name string) string {
	return "TAPE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// expects says what setting s takes, with an example. Tape's own flag
// types (--speed) say it in their error, cause.
func expects(s setting, cause error) string {
	example := func(sample string) string {
		if d := s.f.DefValue; d != "" && d != "0" && d != "0s" && d != "false" && d != "[]" {
			sample = d
		}
		return "like " + s.like(sample)
	}
	switch s.f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "want a whole number, " + example("42")
	case "float32", "float64":
		return "want a number, " + example("2.5")
	case "duration":
		return "want a duration with its unit (ms, s, m, h), " + example("30s")
	case "bool":
		return "want true or false, like " + s.like("true") + " or " + s.like("false")
	}
	if cause != nil {
		return cause.Error()
	}
	return fmt.Sprintf("see --help for --%s", s.f.Name)
}

// lockHolder is who holds a locked data directory, from datadir's
// "...: tape serve (pid 123) holds /dir"; "" if the error does not say.
func lockHolder(err error) string {
	s := err.Error()
	i := strings.Index(s, datadir.ErrLocked.Error()+": ")
	if i < 0 {
		return ""
	}
	s = s[i+len(datadir.ErrLocked.Error())+2:]
	if j := strings.Index(s, " holds "); j > 0 {
		return s[:j]
	}
	return ""
}

// lockedError says, once, who holds the data directory dir and what to do
// about it, for command ("serve", "import", "backfill", "export"). It
// still wraps err (errors.Is(err, datadir.ErrLocked)).
func lockedError(err error, dir, command string) error {
	who := lockHolder(err)
	server := strings.HasPrefix(who, "tape serve")
	var todo string
	switch {
	case command == "serve" || command == "export" && !server:
		todo = "stop it first, or pick another directory with --data"
		if command == "export" {
			todo = "wait for it to finish, then export again"
		}
	case command == "export":
		todo = "export through it with --url (default http://127.0.0.1:8080) instead of --data"
	case server:
		todo = fmt.Sprintf("stop it first, then run tape %s again (%s writes the journal and history store that tape serve owns)", command, command)
	default:
		todo = fmt.Sprintf("wait for it to finish, then run tape %s again", command)
	}
	if who == "" {
		return &messageError{msg: fmt.Sprintf("%v: %s", err, todo), err: err}
	}
	return &messageError{msg: fmt.Sprintf("%s is in use by %s: %s", dir, who, todo), err: err}
}

// messageError rewords err, still wrapping it.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }
