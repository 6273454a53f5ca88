package nebius

import (
	"errors"
	"math"
)

// Protocol Buffers' wire format, as far as Nebius's messages need it: varints, 64-bit and 32-bit fixed values
// (skipped), and length-delimited fields (strings, bytes, messages, maps). stix writes and reads Nebius's
// messages by their field numbers (from the public nebius/api .proto files) without generated code: a
// generated message registers its descriptor at init, and protobuf's own wire package reads the executable at
// init (internal/detrand), both on every stix command.

// The wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// msg builds one message.
type msg []byte

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func (m msg) tag(num, typ int) msg { return appendVarint(m, uint64(num)<<3|uint64(typ)) }

// str adds a string field; an empty one is left out, as proto3 does.
func (m msg) str(num int, s string) msg {
	if s == "" {
		return m
	}
	return append(appendVarint(m.tag(num, wireBytes), uint64(len(s))), s...)
}

// sub adds an embedded message, even an empty one: Nebius reads an empty message as "set" (public_ip_address:
// {} asks for a public address).
func (m msg) sub(num int, sub msg) msg {
	return append(appendVarint(m.tag(num, wireBytes), uint64(len(sub))), sub...)
}

// int adds a varint field (int32, int64, enum, bool); zero is left out.
func (m msg) int(num int, v int64) msg {
	if v == 0 {
		return m
	}
	return appendVarint(m.tag(num, wireVarint), uint64(v))
}

func (m msg) bool(num int, v bool) msg {
	if !v {
		return m
	}
	return m.int(num, 1)
}

// field is one field read from a message.
type field struct {
	num   int
	typ   int
	v     uint64 // a varint's value
	bytes []byte // a length-delimited field's content
}

func (f field) str() string { return string(f.bytes) }

var errWire = errors.New("malformed protobuf message")

func consumeVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// fields reads every field of a message, in order.
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		t, n := consumeVarint(b)
		if n < 0 || t>>3 == 0 || t>>3 > math.MaxInt32 {
			return nil, errWire
		}
		b = b[n:]
		f := field{num: int(t >> 3), typ: int(t & 7)}
		switch f.typ {
		case wireVarint:
			if f.v, n = consumeVarint(b); n < 0 {
				return nil, errWire
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return nil, errWire
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return nil, errWire
			}
			b = b[4:]
		case wireBytes:
			l, n := consumeVarint(b)
			if n < 0 || l > uint64(len(b)-n) {
				return nil, errWire
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, errWire
		}
		out = append(out, f)
	}
	return out, nil
}

// walk calls fn for each field of b; a malformed message is an error.
func walk(b []byte, fn func(f field) error) error {
	fs, err := fields(b)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}
