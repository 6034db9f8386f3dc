package sse

import "bytes"

// AppendEvent appends one event to dst in text/event-stream form and
// returns the extended buffer: "event: NAME\n" when name is non-empty, then
// one "data: LINE\n" for each line of data, then the blank line "\n" that
// dispatches it.
//
// data is split into lines at LF, CRLF and CR, the same terminators the
// Reader recognizes, so a CR in data can never start a new field; a
// Reader therefore returns data with every such terminator turned into
// "\n". Nil or empty data still produces one empty "data: \n" line, so that
// every written event is dispatched by browsers too. CR and LF bytes in
// name are dropped for the same reason. AppendEvent does not allocate when
// dst has room.
func AppendEvent(dst []byte, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		if bytes.IndexByte(name, '\n') < 0 && bytes.IndexByte(name, '\r') < 0 {
			dst = append(dst, name...)
		} else {
			for _, c := range name {
				if c != '\n' && c != '\r' {
					dst = append(dst, c)
				}
			}
		}
		dst = append(dst, '\n')
	}
	return AppendData(dst, data)
}

// AppendData appends an event with no name: one "data: LINE\n" per line
// of data (see AppendEvent for how lines are split) and then "\n".
func AppendData(dst []byte, data []byte) []byte {
	for {
		i := bytes.IndexByte(data, '\n')
		end, next := i, i+1
		if i < 0 {
			end, next = len(data), -1
		}
		if j := bytes.IndexByte(data[:end], '\r'); j >= 0 {
			end, next = j, j+1
			if j+1 < len(data) && data[j+1] == '\n' {
				next = j + 2
			}
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:end]...)
		dst = append(dst, '\n')
		if next < 0 {
			break
		}
		data = data[next:]
	}
	return append(dst, '\n')
}
