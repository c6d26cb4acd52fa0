package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
)

// The built-in placeholders: a client's connection values, and env.
const (
	PlaceholderClientID  = "client_id"
	PlaceholderToken     = "token"
	PlaceholderSessionID = "session_id"
	PlaceholderChannel   = "channel"
	PlaceholderVersion   = "version"
	PlaceholderEnv       = "env"
)

// connectionValues are the placeholders that name one of a client's values.
var connectionValues = []string{
	PlaceholderClientID, PlaceholderToken, PlaceholderSessionID,
	PlaceholderChannel, PlaceholderVersion,
}

// BuiltinPlaceholders returns the names of the placeholders every host knows.
func BuiltinPlaceholders() []string {
	return append(append([]string(nil), connectionValues...), PlaceholderEnv)
}

// Values are one client's connection values, the targets of {client_id},
// {token}, {session_id}, {channel} and {version}. An empty value resolves to
// the empty string, as in the original format.
type Values struct {
	ClientID  string
	Token     Secret
	SessionID string
	Channel   string
	Version   string
}

// Lookup implements Lookup for the connection values.
func (v *Values) Lookup(_ context.Context, name, arg string) (any, error) {
	var val any
	switch name {
	case PlaceholderClientID:
		val = v.ClientID
	case PlaceholderToken:
		val = v.Token
	case PlaceholderSessionID:
		val = v.SessionID
	case PlaceholderChannel:
		val = v.Channel
	case PlaceholderVersion:
		val = v.Version
	default:
		return nil, ErrUnknownPlaceholder
	}
	if arg != "" {
		return nil, errTakesNoArgument
	}
	return val, nil
}

// Env resolves {env:NAME} to the environment variable NAME; an unset
// variable is an error. A nil Getenv means os.LookupEnv.
type Env struct {
	Getenv func(name string) (string, bool)
}

var (
	errNoEnvName       = errors.New("needs a variable name, as in {env:NAME}")
	errTakesNoArgument = errors.New("takes no argument")
)

// Lookup implements Lookup for env.
func (e Env) Lookup(_ context.Context, name, arg string) (any, error) {
	if name != PlaceholderEnv {
		return nil, ErrUnknownPlaceholder
	}
	if arg == "" {
		return nil, errNoEnvName
	}
	get := e.Getenv
	if get == nil {
		get = os.LookupEnv
	}
	v, ok := get(arg)
	if !ok {
		return nil, fmt.Errorf("environment variable %s is not set", arg)
	}
	return v, nil
}

// checkBuiltinRef reports what is wrong with a reference to a built-in
// placeholder, or nil. It knows nothing of other placeholders.
func checkBuiltinRef(r Ref) error {
	switch {
	case r.Name == PlaceholderEnv && r.Arg == "":
		return errNoEnvName
	case r.Name != PlaceholderEnv && r.HasArg && isConnectionValue(r.Name):
		return errTakesNoArgument
	}
	return nil
}

func isConnectionValue(name string) bool {
	return slices.Contains(connectionValues, name)
}
