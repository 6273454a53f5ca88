package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd is the users and bcrypt hashes of an htpasswd file (`htpasswd -nbB USER PASSWORD` writes a line).
// The file is read again when it changes (its size, modification time or inode), so that a user removed or a
// password changed takes effect without a restart.
type Htpasswd struct {
	path string

	mu    sync.Mutex
	users map[string][]byte
	info  os.FileInfo // of the file users was read from
	err   error       // why the file as it stands now does not read
}

// LoadHtpasswd reads an htpasswd file: one "user:hash" a line, blank lines and lines starting with # skipped.
// Only bcrypt hashes ($2y$, $2a$, $2b$) are accepted: a line with another scheme (Apache's MD5 $apr1$, {SHA},
// crypt or plain text) is an error that names the line, since those hashes are cheap to crack.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file: %w", err)
	}
	users, err := readHtpasswd(path)
	if err != nil {
		return nil, err
	}
	return &Htpasswd{path: path, users: users, info: fi}, nil
}

func readHtpasswd(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "" || hash == "":
			return nil, fmt.Errorf("%s:%d: want USER:HASH; write lines with `htpasswd -nbB USER PASSWORD`", path, n)
		case !isBcrypt(hash):
			return nil, fmt.Errorf("%s:%d: user %q: only bcrypt hashes ($2y$, $2a$, $2b$) are accepted, not %s; "+
				"write the line again with `htpasswd -nbB %s PASSWORD`", path, n, user, scheme(hash), user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: malformed bcrypt hash: %v", path, n, user, err)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%s:%d: user %q is listed twice", path, n, user)
		}
		users[user] = []byte(hash)
	}
	return users, sc.Err()
}

// current returns the users as the file stands now, reading it again when it changed since last read. A file
// that no longer reads (removed, or a malformed line) refuses every user until it is fixed: failing closed, so
// that a half-edited file lets no removed user in.
func (h *Htpasswd) current() (map[string][]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fi, err := os.Stat(h.path)
	switch {
	case err != nil:
		h.info, h.err = nil, fmt.Errorf("htpasswd file: %w", err)
	case h.info != nil && os.SameFile(fi, h.info) && fi.Size() == h.info.Size() && fi.ModTime().Equal(h.info.ModTime()):
	default:
		users, err := readHtpasswd(h.path)
		h.info, h.err = fi, err
		if err == nil {
			h.users = users
		}
	}
	if h.err != nil {
		return nil, h.err
	}
	return h.users, nil
}

// Entry returns user's line in the file as it stands now (its bcrypt hash), and false when there is none.
func (h *Htpasswd) Entry(user string) ([]byte, bool, error) {
	users, err := h.current()
	if err != nil {
		return nil, false, err
	}
	hash, ok := users[user]
	return hash, ok, nil
}

func isBcrypt(hash string) bool {
	for _, p := range []string{"$2y$", "$2a$", "$2b$"} {
		if strings.HasPrefix(hash, p) {
			return true
		}
	}
	return false
}

// scheme names a hash's scheme for the error that refuses it.
func scheme(hash string) string {
	switch {
	case strings.HasPrefix(hash, "$apr1$"):
		return "Apache MD5 ($apr1$)"
	case strings.HasPrefix(hash, "{SHA}"):
		return "SHA-1 ({SHA})"
	case strings.HasPrefix(hash, "$"):
		return "crypt(3) " + strings.SplitN(hash, "$", 3)[1]
	}
	return "crypt or plain text"
}

// Check reports whether password is user's. A user not in the file costs one bcrypt comparison all the same,
// so that the answer's timing does not say which users exist.
func (h *Htpasswd) Check(user, password string) bool {
	hash, ok, err := h.Entry(user)
	if err != nil || !ok {
		ok = false
		hash = dummyHash()
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && ok
}

// dummyHash is compared against for unknown users: a bcrypt hash at the default cost, made on first use (not
// at start: every stix command links this package).
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("stix: no such user"), bcrypt.DefaultCost)
	return h
})
