package fakenebius

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes messages through as bytes: the fake reads and writes Nebius's messages by field number.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

// m builds a message.
type m []byte

func (b m) str(num int, s string) m {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, protowire.Number(num), protowire.BytesType), s)
}

func (b m) sub(num int, sub m) m {
	return protowire.AppendBytes(protowire.AppendTag(b, protowire.Number(num), protowire.BytesType), sub)
}

func (b m) int(num int, v int64) m {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, protowire.Number(num), protowire.VarintType), uint64(v))
}

// fld is one field of a request.
type fld struct {
	num   int
	v     uint64
	bytes []byte
}

// parse reads a message's fields; a malformed one yields what came before the fault.
func parse(b []byte) []fld {
	var out []fld
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out
		}
		b = b[n:]
		f := fld{num: int(num)}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return out
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

// get returns the fields numbered num.
func get(b []byte, num int) []fld {
	var out []fld
	for _, f := range parse(b) {
		if f.num == num {
			out = append(out, f)
		}
	}
	return out
}

// str is the string field num of b ("" when unset); path descends through embedded messages first.
func str(b []byte, path ...int) string {
	for i, num := range path {
		fs := get(b, num)
		if len(fs) == 0 {
			return ""
		}
		if i == len(path)-1 {
			return string(fs[len(fs)-1].bytes)
		}
		b = fs[len(fs)-1].bytes
	}
	return ""
}

// num is the varint field at path.
func num(b []byte, path ...int) int64 {
	for i, n := range path {
		fs := get(b, n)
		if len(fs) == 0 {
			return 0
		}
		if i == len(path)-1 {
			return int64(fs[len(fs)-1].v)
		}
		b = fs[len(fs)-1].bytes
	}
	return 0
}

// has says whether the embedded message at path is set.
func has(b []byte, path ...int) bool {
	for _, n := range path {
		fs := get(b, n)
		if len(fs) == 0 {
			return false
		}
		b = fs[len(fs)-1].bytes
	}
	return true
}

// cert is the fake's TLS certificate, one per test process (Go reads SSL_CERT_FILE once per process): for
// 127.0.0.1 and the netns bridge's address.
var cert = struct {
	once sync.Once
	tls  tls.Certificate
	pem  []byte
	err  error
}{}

func certificate(t testing.TB, bridge string) (tls.Certificate, []byte) {
	cert.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			cert.err = err
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fakenebius"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(bridge)},
			DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			cert.err = err
			return
		}
		cert.pem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		cert.tls = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if cert.err != nil {
		t.Fatalf("fakenebius: certificate: %v", cert.err)
	}
	return cert.tls, cert.pem
}
