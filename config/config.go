// Package config reads wsplug's YAML configuration: the websocket clients
// (the "Websocket Config" of ad_discordbot's API settings, with wsplug's own
// keys) and the plugins that extend them. It parses the file into plain data,
// validates all of it in one pass with file, line and key for every problem,
// and resolves the placeholder language that url, headers, query parameters,
// endpoint paths and payloads share.
//
// The package does no I/O beyond reading the file, and knows nothing of Wasm
// or sockets: the host hands it the names of the providers it has.
package config

import "time"

// File is a loaded configuration file.
type File struct {
	// Path is the file's path as given to Load.
	Path string
	// APIs are the entries of apis (or all_apis), in file order.
	APIs []API
	// Plugins are the entries of plugins, in file order.
	Plugins []Plugin
	// Warnings are things worth telling the user that do not stop the file
	// from loading, such as keys that only ad_discordbot reads.
	Warnings []Problem

	src *source
}

// API returns the API entry of that name.
func (f *File) API(name string) (*API, bool) {
	for i := range f.APIs {
		if f.APIs[i].Name == name {
			return &f.APIs[i], true
		}
	}
	return nil, false
}

// API is one backend: an HTTP base URL with endpoints and, optionally, the
// websocket that the host keeps open to it.
type API struct {
	// Name is unique in the file; the host's Client and the CLI use it.
	Name string
	// URL is the HTTP base URL, http or https; endpoint paths are added to
	// it, and a websocket without a URL of its own is derived from it.
	URL string
	// Enabled is false for an API that Start leaves off; it can still be
	// switched on at run time.
	Enabled bool
	// DefaultHeaders go on every HTTP request; an endpoint's own headers win.
	DefaultHeaders []Pair
	// DefaultTimeout bounds an HTTP request whose endpoint sets none.
	DefaultTimeout time.Duration
	// Auth is nil when HTTP requests go without basic authentication.
	Auth *Auth
	// Endpoints are the HTTP routes, in file order, called by name.
	Endpoints []Endpoint
	// Websocket is nil when the entry has no websocket section.
	Websocket *Websocket
}

// Auth is HTTP basic authentication.
type Auth struct {
	Username string
	Password Secret
}

// Pair is one header or query parameter. Value is a template.
type Pair struct {
	Name  string
	Value string
}

// HTTP methods allowed for an endpoint; NoRequest is `method: null`.
const NoRequest = ""

// Payload types of an endpoint.
const (
	PayloadJSON      = "json"
	PayloadForm      = "form"
	PayloadQuery     = "query"
	PayloadMultipart = "multipart"
)

// Endpoint is one HTTP route of an API.
type Endpoint struct {
	// Name is how a caller names the endpoint, unique in its API.
	Name string
	// Path is a template, resolved per call.
	Path string
	// Method is an HTTP method, or NoRequest when the endpoint makes none.
	Method string
	// Headers go on the endpoint's requests over the API's DefaultHeaders.
	Headers []Pair
	// Timeout is zero when the API's default applies.
	Timeout time.Duration
	// Retry is how many times a request that failed on the network or
	// with a 5xx status is tried again.
	Retry int
	// PayloadType is how the payload is sent: PayloadJSON, PayloadForm,
	// PayloadQuery or PayloadMultipart.
	PayloadType string
}

// Websocket is an API's websocket section: ad_discordbot's "Websocket
// Config" with its defaults, plus wsplug's keys for the connection itself.
type Websocket struct {
	// URL is a template; empty means derived from the API's URL.
	URL string

	// ClientIDRequired puts the client id in the URL's query.
	ClientIDRequired bool
	// ClientIDFormat names the generator of the client id: a built-in
	// (uuid, the default), a Go function's or a plugin's.
	ClientIDFormat string
	// ClientIDName is the query key the id goes under.
	ClientIDName string
	// ClientID, when set, is used instead of generating one. A template.
	ClientID string

	// TokenRequired puts the token in the URL's query, under TokenName;
	// AuthToken is then required.
	TokenRequired bool
	TokenName     string
	// AuthToken is a template (often {env:NAME}); what it resolves to is a
	// Secret.
	AuthToken string

	// SessionIDRequired puts the session id in the URL's query, under
	// SessionIDName, on every connection, so that a server can resume
	// the session. SessionID fixes it; else it is read from an inbound
	// message (SessionIDFrom) or made once.
	SessionIDRequired bool
	SessionIDName     string
	SessionID         string
	// SessionIDFrom, when set, names the inbound message the session id is
	// read from.
	SessionIDFrom *MessageField

	// ChannelRequired puts Channel in the URL's query under ChannelName;
	// Channel is then required.
	ChannelRequired bool
	ChannelName     string
	Channel         string

	// VersionRequired puts Version in the URL's query under VersionName;
	// Version is then required.
	VersionRequired bool
	VersionName     string
	Version         string

	// Headers go on the handshake; their values are templates.
	Headers []Pair
	// QueryParams are added to the URL's query in file order; their values
	// are templates.
	QueryParams []Pair

	// ReconnectOnFailure makes a lost connection, or a failed first dial,
	// try again, up to Retry times.
	ReconnectOnFailure bool
	// Retry is the number of further attempts after a lost connection; -1
	// retries without end.
	Retry int
	// Backoff bounds the wait between attempts.
	Backoff Backoff
	// PingInterval is zero when pings are off.
	PingInterval time.Duration
	// PongTimeout is how long a ping waits for its pong before the
	// connection counts as lost.
	PongTimeout time.Duration
	// MaxMessageSize bounds an inbound message, in bytes; a larger one
	// loses the connection.
	MaxMessageSize int64
	// SendQueue is how many outgoing messages wait while reconnecting.
	SendQueue int
	// Transforms run on every message, outgoing before it is written and
	// incoming before subscribers get it.
	Transforms Transforms
	// TransformErrors says what a failed transform does to its message.
	TransformErrors string
	// Subprotocols are offered in the handshake, in order of preference.
	Subprotocols []string
	// DialTimeout bounds one connection attempt, handshake included.
	DialTimeout time.Duration
}

// What a failed transform does to its message (transform_errors).
const (
	// TransformErrorsFail: an outgoing message is not sent and its Send
	// returns the error; an incoming one is dropped.
	TransformErrorsFail = "fail"
	// TransformErrorsDrop: the message is dropped; a Send returns an error
	// that says so.
	TransformErrorsDrop = "drop"
	// TransformErrorsPass: the message goes on as it was before the
	// transform.
	TransformErrorsPass = "pass"
)

// Backoff bounds the exponential wait between reconnect attempts: before
// attempt n (from 1) the wait is random up to Initial * 2^(n-1), capped at
// Max. The randomness (full jitter) keeps clients that lost one server from
// all coming back at once.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// MessageField names a value inside an inbound JSON message: the message
// whose "type" is Type, at the dotted Path (e.g. data.sid).
type MessageField struct {
	Type string
	Path string
}

// Transforms are the names of the payload transforms, run in order.
type Transforms struct {
	Outgoing []string
	Incoming []string
}

// Plugin is one Wasm plugin to load.
type Plugin struct {
	// Name is unique in the file; it names the plugin in logs, errors and
	// metrics, not what it provides.
	Name string
	// Path is as written in the file; File is it made absolute against the
	// config file's directory.
	Path string
	File string
	// SHA256 is empty or 64 lowercase hex digits.
	SHA256 string
	// Config is handed to the plugin as JSON: nil, bool, int, float64,
	// string, []any, map[string]any.
	Config any
	// Allow names the capabilities granted, from Capabilities.
	Allow []string
	// Limits are the plugin's own, its defaults filled in.
	Limits Limits
}

// Limits bound what one plugin may use.
type Limits struct {
	// Memory is the ceiling of one instance's linear memory, in bytes.
	Memory int64
	// Timeout bounds one call into the plugin.
	Timeout time.Duration
	// Instances is the size of the plugin's pool of instances.
	Instances int
}

// Capabilities a plugin can be granted with allow.
const (
	// CapClock gives the plugin the real wall clock.
	CapClock = "clock"
	// CapRandom gives the plugin a cryptographic random source.
	CapRandom = "random"
	// CapSecrets lets the plugin read {token} and auth values.
	CapSecrets = "secrets"
)

// Capabilities lists every capability name.
var Capabilities = []string{CapClock, CapRandom, CapSecrets}

// Defaults for keys the file leaves out.
const (
	DefaultTokenName      = "token"
	DefaultClientIDName   = "clientId"
	DefaultSessionIDName  = "session_id"
	DefaultChannelName    = "channel"
	DefaultVersionName    = "version"
	DefaultRetry          = 1
	DefaultBackoffInitial = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPongTimeout    = 10 * time.Second
	DefaultMaxMessageSize = 16 << 20
	DefaultSendQueue      = 1024
	DefaultDialTimeout    = 10 * time.Second
	DefaultAPITimeout     = 60 * time.Second
	DefaultPluginMemory   = 64 << 20
	DefaultPluginTimeout  = time.Second
	DefaultPluginPool     = 4
)

func defaultWebsocket() Websocket {
	return Websocket{
		ClientIDFormat:     DefaultClientIDFormat,
		ClientIDName:       DefaultClientIDName,
		TokenName:          DefaultTokenName,
		SessionIDName:      DefaultSessionIDName,
		ChannelName:        DefaultChannelName,
		VersionName:        DefaultVersionName,
		ReconnectOnFailure: true,
		Retry:              DefaultRetry,
		Backoff:            Backoff{Initial: DefaultBackoffInitial, Max: DefaultBackoffMax},
		PingInterval:       DefaultPingInterval,
		PongTimeout:        DefaultPongTimeout,
		MaxMessageSize:     DefaultMaxMessageSize,
		SendQueue:          DefaultSendQueue,
		TransformErrors:    TransformErrorsFail,
		DialTimeout:        DefaultDialTimeout,
	}
}
