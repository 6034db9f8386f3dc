package usage

import "errors"

var errNotObject = errors.New("usage: body is not a JSON object")
