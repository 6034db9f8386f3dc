package bedrock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxFrameSize bounds one eventstream frame (prelude to message CRC): the
// 16 MiB payload limit of the AWS event stream encoding plus room for
// headers. A longer total_length is an error, read before anything is
// allocated for the frame.
const MaxFrameSize = 16<<20 + 128<<10

// Eventstream framing constants (see fixtures/bedrock/eventstream-frame-layout.md).
const (
	preludeLen  = 12 // total_length, headers_length, prelude_crc
	minFrameLen = 16 // prelude and message CRC
)

// ErrChecksum is wrapped by the error Next returns for a frame whose
// prelude or message CRC does not match its bytes.
var ErrChecksum = errors.New("eventstream checksum mismatch")

// Frame is one decoded eventstream message with the headers Bedrock sends.
// Payload aliases the Decoder's buffer and is valid until the next call to
// Next.
type Frame struct {
	// EventType is :event-type (messageStart, contentBlockDelta, ...), ""
	// on exception frames.
	EventType string
	// MessageType is :message-type: "event", "exception" or "error".
	MessageType string
	// ExceptionType is :exception-type (throttlingException, ...) on
	// exception frames; on "error" frames it is :error-code.
	ExceptionType string
	// Payload is the frame's payload: JSON for Bedrock's events and
	// exceptions ({"message":…}). On "error" frames, which carry their
	// message in the :error-message header, Payload is that message as
	// {"message":…}.
	Payload []byte
}

// Decoder reads eventstream frames from an HTTP body, whatever its
// chunking: a frame may arrive over many reads and a read may hold the end
// of one frame and the start of the next. The prelude CRC is checked
// before the rest of a frame is read, so a corrupt length never causes a
// large allocation; the message CRC is checked by the AWS SDK's
// eventstream decoder, which also parses the headers.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	r       io.Reader
	dec     *eventstream.Decoder
	buf     []byte // the current frame
	payload []byte // payload buffer handed to the SDK decoder
	err     error  // sticky error
}

// NewDecoder returns a Decoder reading from r. It reads only as much as
// each frame needs; wrap r in a bufio.Reader when it is not buffered.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, dec: eventstream.NewDecoder()}
}

// Next decodes the next frame. It returns io.EOF when the body ends
// cleanly between frames, io.ErrUnexpectedEOF when it ends inside one,
// an error wrapping ErrChecksum on a CRC mismatch, and an error for a
// frame with impossible lengths. After an error, Next returns it again.
func (d *Decoder) Next() (Frame, error) {
	if d.err != nil {
		return Frame{}, d.err
	}
	f, err := d.next()
	if err != nil {
		d.err = err
	}
	return f, err
}

func (d *Decoder) next() (Frame, error) {
	if cap(d.buf) < preludeLen {
		d.buf = make([]byte, preludeLen, 4096)
	}
	d.buf = d.buf[:preludeLen]
	if n, err := io.ReadFull(d.r, d.buf); err != nil {
		if err == io.EOF && n == 0 {
			return Frame{}, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	total := binary.BigEndian.Uint32(d.buf[0:4])
	hlen := binary.BigEndian.Uint32(d.buf[4:8])
	if crc32.ChecksumIEEE(d.buf[:8]) != binary.BigEndian.Uint32(d.buf[8:12]) {
		return Frame{}, fmt.Errorf("bedrock: decode eventstream: prelude: %w", ErrChecksum)
	}
	if total < minFrameLen || total > MaxFrameSize || hlen > total-minFrameLen {
		return Frame{}, fmt.Errorf("bedrock: decode eventstream: invalid frame lengths (total %d, headers %d)", total, hlen)
	}
	if cap(d.buf) < int(total) {
		d.buf = append(d.buf[:preludeLen], make([]byte, int(total)-preludeLen)...)
	}
	d.buf = d.buf[:total]
	if _, err := io.ReadFull(d.r, d.buf[preludeLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	m, err := d.dec.Decode(bytes.NewReader(d.buf), d.payload[:0])
	if err != nil {
		if _, ok := errors.AsType[eventstream.ChecksumError](err); ok {
			return Frame{}, fmt.Errorf("bedrock: decode eventstream: message: %w", ErrChecksum)
		}
		return Frame{}, fmt.Errorf("bedrock: decode eventstream: %w", err)
	}
	if cap(m.Payload) > cap(d.payload) {
		d.payload = m.Payload[:0]
	}
	f := Frame{Payload: m.Payload}
	for _, h := range m.Headers {
		s, ok := h.Value.(eventstream.StringValue)
		if !ok {
			continue
		}
		switch h.Name {
		case ":event-type":
			f.EventType = string(s)
		case ":message-type":
			f.MessageType = string(s)
		case ":exception-type", ":error-code":
			f.ExceptionType = string(s)
		case ":error-message":
			p, _ := jsontext.AppendQuote([]byte(`{"message":`), string(s))
			f.Payload = append(p, '}')
		}
	}
	return f, nil
}

// AppendFrame appends the eventstream encoding of a frame with the given
// headers (in Bedrock's order: :event-type or :exception-type,
// :content-type application/json, :message-type) and payload to dst. It
// is the inverse of Decoder.Next, for the emulator and tests.
func AppendFrame(dst []byte, f Frame) []byte {
	var hs eventstream.Headers
	switch f.MessageType {
	case "exception":
		hs = append(hs, eventstream.Header{Name: ":exception-type", Value: eventstream.StringValue(f.ExceptionType)})
	default:
		hs = append(hs, eventstream.Header{Name: ":event-type", Value: eventstream.StringValue(f.EventType)})
	}
	hs = append(hs,
		eventstream.Header{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		eventstream.Header{Name: ":message-type", Value: eventstream.StringValue(f.MessageType)})
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, eventstream.Message{Headers: hs, Payload: f.Payload}); err != nil {
		panic("bedrock: encode eventstream frame: " + err.Error()) // only oversized headers fail
	}
	return append(dst, b.Bytes()...)
}
