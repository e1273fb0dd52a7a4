package vendors

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// OptionError is a refused option value, found by a vendor's validation,
// which both UnmarshalCaddyfile (at adapt time, where UnmarshalBlock adds
// the file and line of Option) and Provision (for JSON configurations)
// run. Its message never quotes a secret or a value that may be one.
type OptionError struct {
	Vendor string // the vendor's name, e.g. "facia"
	Option string // the option as in the Caddyfile and the JSON, e.g. "base_url"
	Msg    string // what is wrong, e.g. `must be fake_high or live_high, got "up"`
}

func (e *OptionError) Error() string { return e.Vendor + ": " + e.Option + " " + e.Msg }

// badOption is the OptionError of vendor's option.
func badOption(vendor, option, format string, args ...any) *OptionError {
	return &OptionError{Vendor: vendor, Option: option, Msg: fmt.Sprintf(format, args...)}
}

// checkOneOf refuses val unless it is empty (the default) or one of
// allowed.
func checkOneOf(vendor, option, val string, allowed ...string) error {
	if val == "" || slices.Contains(allowed, val) {
		return nil
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	return badOption(vendor, option, "must be %s, got %q", list, val)
}

// checkBaseURL refuses a base_url that is not the origin of an http(s)
// URL (a path may follow); empty, it is the vendor's production origin.
// Whether plain http:// is allowed depends on insecure_http and is
// decided when the endpoint is built (EndpointAllowHTTP).
func checkBaseURL(vendor, base string) error {
	if base == "" {
		return nil
	}
	if _, msg := parseBaseURL(base); msg != "" {
		return badOption(vendor, "base_url", "%s", msg)
	}
	return nil
}

// parseBaseURL parses a non-empty base URL, or says what is wrong with it.
// The message quotes the URL without its user info (which may hold a
// password), and never the text of one that does not parse.
func parseBaseURL(base string) (*url.URL, string) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, "is not a valid URL"
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		shown := *u
		shown.User = nil
		return nil, fmt.Sprintf("must be an http(s) origin such as https://host:port, got %q", shown.String())
	}
	return u, ""
}

// UnmarshalBlock reads a vendor block, `vendor <name> { <option> <value> ... }`,
// where every option takes one value and may appear once: set is called
// with each. The options named in flags are flags instead: given alone,
// `<option>`, they are set to "true"; with a value, that value must be
// true or false (`<option> true`, `<option> false`), and set receives it.
// Unknown or repeated options and missing or extra values are errors.
//
// validate, when not nil, then checks the values set, as Provision does
// for a JSON configuration: an *OptionError it returns is reported at the
// line of the option it names, any other error at the end of the block.
func UnmarshalBlock(d *caddyfile.Dispenser, vendor string, set func(opt, val string) (known bool, err error), validate func() error, flags ...string) error {
	d.Next() // vendor name
	if d.NextArg() {
		return d.ArgErr()
	}
	at, err := ReadOptions(d, vendor, set, flags...)
	if err != nil {
		return err
	}
	if validate == nil {
		return nil
	}
	err = validate()
	if err == nil {
		return nil
	}
	var oe *OptionError
	if errors.As(err, &oe) {
		if tok, ok := at[oe.Option]; ok {
			od := caddyfile.NewDispenser([]caddyfile.Token{tok})
			od.Next()
			return od.WrapErr(err)
		}
	}
	return d.WrapErr(err)
}

// ReadBlock reads the options of the block the dispenser is in, up to its
// end: each option may appear once, and read is called at it to take its
// values from d (known false: no such option). name says whose block it
// is in errors. It returns where each option stood.
func ReadBlock(d *caddyfile.Dispenser, name string, read func(opt string, d *caddyfile.Dispenser) (known bool, err error)) (map[string]caddyfile.Token, error) {
	at := map[string]caddyfile.Token{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if _, seen := at[opt]; seen {
			return nil, d.Errf("%s: duplicate option %q", name, opt)
		}
		at[opt] = d.Token()
		known, err := read(opt, d)
		if !known {
			return nil, d.Errf("%s: unknown option %q", name, opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return at, nil
}

// ReadOptions reads a block whose options take one value each, or none
// for the flags (given alone they are "true"; with a value it must be true
// or false), by ReadBlock's rules, calling set with each. Values that set
// refuses are reported at their line. The handler's own blocks (cache,
// breaker) are read by it too.
func ReadOptions(d *caddyfile.Dispenser, name string, set func(opt, val string) (known bool, err error), flags ...string) (map[string]caddyfile.Token, error) {
	return ReadBlock(d, name, func(opt string, d *caddyfile.Dispenser) (bool, error) {
		var val string
		if slices.Contains(flags, opt) {
			switch args := d.RemainingArgs(); {
			case len(args) == 0:
				val = "true"
			case len(args) == 1 && (args[0] == "true" || args[0] == "false"):
				val = args[0]
			default:
				return true, d.WrapErr(badOption(name, opt, "is a flag: give it alone, or with true or false"))
			}
		} else if !d.AllArgs(&val) {
			// Not ArgErr, which quotes the last value read: it may be a
			// piece of a secret.
			return true, d.WrapErr(badOption(name, opt, "takes exactly one value"))
		}
		known, err := set(opt, val)
		if known && err != nil {
			return true, d.WrapErr(badOption(name, opt, "%v", err))
		}
		return known, nil
	})
}

// StringOptions is an UnmarshalBlock setter for options that are plain
// strings.
func StringOptions(fields map[string]*string) func(opt, val string) (bool, error) {
	return parsedOptions(fields, func(val string) (string, error) { return val, nil })
}

// FlagOptions is an UnmarshalBlock setter for flags (named in its flags
// too), which it hands over as "true" or "false".
func FlagOptions(fields map[string]*bool) func(opt, val string) (bool, error) {
	return parsedOptions(fields, func(val string) (bool, error) {
		b, err := strconv.ParseBool(val)
		if err != nil {
			return false, fmt.Errorf("must be true or false, got %q", val)
		}
		return b, nil
	})
}

// DurationOptions is an UnmarshalBlock setter for options that are
// positive durations, such as 250ms or 2s (left out, an option has its
// default).
func DurationOptions(fields map[string]*caddy.Duration) func(opt, val string) (bool, error) {
	return parsedOptions(fields, func(val string) (caddy.Duration, error) {
		d, err := caddy.ParseDuration(val)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("must be a positive duration, got %q", val)
		}
		return caddy.Duration(d), nil
	})
}

// IntOptions is an UnmarshalBlock setter for options that are positive
// integers (left out, an option has its default).
func IntOptions(fields map[string]*int) func(opt, val string) (bool, error) {
	return parsedOptions(fields, func(val string) (int, error) {
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("must be a positive integer, got %q", val)
		}
		return n, nil
	})
}

// parsedOptions is an UnmarshalBlock setter for the options in fields,
// whose values parse reads.
func parsedOptions[T any](fields map[string]*T, parse func(val string) (T, error)) func(opt, val string) (bool, error) {
	return func(opt, val string) (bool, error) {
		f, ok := fields[opt]
		if !ok {
			return false, nil
		}
		v, err := parse(val)
		if err != nil {
			return true, err
		}
		*f = v
		return true, nil
	}
}

// Options is an UnmarshalBlock setter that asks each of sets in turn
// until one knows the option.
func Options(sets ...func(opt, val string) (bool, error)) func(opt, val string) (bool, error) {
	return func(opt, val string) (bool, error) {
		for _, set := range sets {
			if known, err := set(opt, val); known {
				return true, err
			}
		}
		return false, nil
	}
}
