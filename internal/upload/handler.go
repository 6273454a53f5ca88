package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
)

// Headers of the blob upload requests (the same names as the tus resumable-upload protocol).
const (
	headerOffset   = "Upload-Offset"   // bytes the server holds / where a PATCH body starts
	headerLength   = "Upload-Length"   // the blob's full size, as the client declares it
	headerComplete = "Upload-Complete" // "1" when the blob is stored whole
)

// handler serves the upload API; see docs/upload.md.
type handler struct {
	st  *store
	lim Limits
}

// Routes are the routes NewHandler serves, as "METHOD /path" relative to the prefix it is mounted under (the
// server documents them in its OpenAPI file).
var Routes = []string{
	"GET /limits", "POST /missing", "HEAD /blobs/{sha256}", "PATCH /blobs/{sha256}", "POST /trees", "GET /trees/{id}",
}

// NewHandler returns the server side of the upload API, storing blobs and trees under dir. Mount it with
// http.StripPrefix so that it sees paths relative to the upload prefix ("/missing", "/blobs/<sha256>", ...).
// A dir that cannot be created makes every request fail with 500 and the reason.
func NewHandler(dir string, lim Limits) http.Handler {
	st, err := newStore(dir)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, internalError("open upload store", err))
		})
	}
	return &handler{st: st, lim: lim.withDefaults()}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(r.URL.Path, "/")
	var e *Error
	switch {
	case p == "limits":
		e = h.only(r, http.MethodGet)
		if e == nil {
			writeJSON(w, http.StatusOK, LimitsInfo{MaxTreeBytes: h.lim.MaxTreeBytes, MaxFiles: h.lim.MaxFiles})
		}
	case p == "missing":
		if e = h.only(r, http.MethodPost); e == nil {
			e = h.missing(w, r)
		}
	case p == "trees":
		if e = h.only(r, http.MethodPost); e == nil {
			e = h.commit(w, r)
		}
	case strings.HasPrefix(p, "trees/"):
		if e = h.only(r, http.MethodGet); e == nil {
			e = h.getTree(w, strings.TrimPrefix(p, "trees/"))
		}
	case strings.HasPrefix(p, "blobs/"):
		sum := strings.TrimPrefix(p, "blobs/")
		if !validHash(sum) {
			e = badRequest("blob name %q is not a sha256 (64 lowercase hex digits)", sum)
			break
		}
		switch r.Method {
		case http.MethodHead:
			e = h.headBlob(w, sum)
		case http.MethodPatch:
			e = h.patchBlob(w, r, sum)
		default:
			e = methodNotAllowed(r, http.MethodHead, http.MethodPatch)
		}
	default:
		e = &Error{Status: http.StatusNotFound, Code: "not_found",
			Message: fmt.Sprintf("no upload route %s %q", r.Method, r.URL.Path)}
	}
	if e != nil {
		writeError(w, e)
	}
}

// LimitsInfo is the body of GET limits.
type LimitsInfo struct {
	MaxTreeBytes int64 `json:"max_tree_bytes"`
	MaxFiles     int   `json:"max_files"`
}

// MissingBlob is one blob the server lacks, with the bytes of it already received.
type MissingBlob struct {
	SHA256 string `json:"sha256"`
	Offset int64  `json:"offset"`
}

// MissingResponse is the body of POST missing.
type MissingResponse struct {
	Missing []MissingBlob `json:"missing"`
}

// CommitResponse is the body of POST trees.
type CommitResponse struct {
	Tree string `json:"tree"`
}

func (h *handler) only(r *http.Request, method string) *Error {
	if r.Method != method {
		return methodNotAllowed(r, method)
	}
	return nil
}

func methodNotAllowed(r *http.Request, allowed ...string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: fmt.Sprintf("%s is not allowed on %q; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or "))}
}

// readManifest reads and validates a manifest body.
func (h *handler) readManifest(w http.ResponseWriter, r *http.Request) (*Manifest, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.lim.MaxManifestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, h.lim.tooLarge(fmt.Sprintf("the manifest is over the server's limit of %s",
				humanBytes(h.lim.MaxManifestBytes)))
		}
		return nil, badRequest("read manifest: %v", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "bad_json", Message: jsonErrorMessage(body, err),
			Hint: "send a manifest as documented in docs/upload.md"}
	}
	if dec.More() {
		return nil, &Error{Status: http.StatusBadRequest, Code: "bad_json",
			Message: fmt.Sprintf("manifest: unexpected data after the JSON object at byte %d", dec.InputOffset())}
	}
	if e := m.validate(h.lim); e != nil {
		return nil, e
	}
	return &m, nil
}

// jsonErrorMessage says where in body a decoding error lies.
func jsonErrorMessage(body []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("manifest is not valid JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return fmt.Sprintf("manifest field %q at byte %d must be %s, not %s", te.Field, te.Offset, te.Type, te.Value)
	case len(bytes.TrimSpace(body)) == 0:
		return "manifest body is empty"
	default:
		return "manifest is not valid JSON: " + err.Error()
	}
}

// missing answers which blobs of a manifest the server lacks, and how much of each it holds.
func (h *handler) missing(w http.ResponseWriter, r *http.Request) *Error {
	m, e := h.readManifest(w, r)
	if e != nil {
		return e
	}
	resp := MissingResponse{Missing: []MissingBlob{}}
	seen := map[string]bool{}
	for _, en := range m.Entries {
		if en.Type != TypeFile || seen[en.SHA256] {
			continue
		}
		seen[en.SHA256] = true
		_, ok, err := h.st.blobSize(en.SHA256)
		if err != nil {
			return internalError("stat blob", err)
		}
		if ok {
			continue
		}
		off, err := h.st.partialSize(en.SHA256)
		if err != nil {
			return internalError("stat partial blob", err)
		}
		resp.Missing = append(resp.Missing, MissingBlob{SHA256: en.SHA256, Offset: off})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// headBlob reports how much of a blob the server holds.
func (h *handler) headBlob(w http.ResponseWriter, sum string) *Error {
	size, ok, err := h.st.blobSize(sum)
	if err != nil {
		return internalError("stat blob", err)
	}
	if ok {
		w.Header().Set(headerOffset, strconv.FormatInt(size, 10))
		w.Header().Set(headerComplete, "1")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	off, err := h.st.partialSize(sum)
	if err != nil {
		return internalError("stat partial blob", err)
	}
	w.Header().Set(headerOffset, strconv.FormatInt(off, 10))
	w.WriteHeader(http.StatusNotFound)
	return nil
}

// patchBlob appends a PATCH body to a blob at the offset the client names, and stores the blob once its
// declared length is reached and its bytes hash to its name.
func (h *handler) patchBlob(w http.ResponseWriter, r *http.Request, sum string) *Error {
	offset, err1 := strconv.ParseInt(r.Header.Get(headerOffset), 10, 64)
	length, err2 := strconv.ParseInt(r.Header.Get(headerLength), 10, 64)
	if err1 != nil || err2 != nil || offset < 0 || length < 0 || offset > length {
		return badRequest("a blob PATCH needs integer headers %s (where the body starts) and %s (the blob's "+
			"size), with 0 <= offset <= length", headerOffset, headerLength)
	}
	if length > h.lim.MaxTreeBytes {
		return h.lim.tooLarge(fmt.Sprintf("blob %s is %s, over the server's limit of %s per upload",
			sum, humanBytes(length), humanBytes(h.lim.MaxTreeBytes)))
	}
	unlock, err := h.st.lock(r.Context(), sum)
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "internal", Message: "gave up waiting: " + err.Error()}
	}
	defer unlock()

	if size, ok, err := h.st.blobSize(sum); err != nil {
		return internalError("stat blob", err)
	} else if ok {
		// Another upload stored it meanwhile; the rest of this body is not needed.
		w.Header().Set(headerOffset, strconv.FormatInt(size, 10))
		w.Header().Set(headerComplete, "1")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	cur, err := h.st.partialSize(sum)
	if err != nil {
		return internalError("stat partial blob", err)
	}
	if cur > length {
		// Longer than the blob can be: written by a client that declared another length, which cannot hash
		// right. Start over.
		if err := os.Remove(h.st.partialPath(sum)); err != nil {
			return internalError("remove partial blob", err)
		}
		cur = 0
	}
	if offset != cur {
		w.Header().Set(headerOffset, strconv.FormatInt(cur, 10))
		return &Error{Status: http.StatusConflict, Code: "offset_mismatch",
			Message: fmt.Sprintf("blob %s: the server holds %d bytes, not %d", sum, cur, offset),
			Hint:    "resume from the offset in the " + headerOffset + " header"}
	}
	n, got, e := h.appendBody(r.Body, sum, cur, length)
	if e != nil {
		return e
	}
	cur += n
	if cur == length {
		ok, err := h.st.finish(sum, got)
		if err != nil {
			return internalError("store blob", err)
		}
		if !ok {
			return &Error{Status: http.StatusBadRequest, Code: "hash_mismatch",
				Message: fmt.Sprintf("blob %s: its %d bytes do not hash to its name; nothing was stored", sum, length),
				Hint:    "the file changed while it was read; push again"}
		}
		w.Header().Set(headerComplete, "1")
	}
	w.Header().Set(headerOffset, strconv.FormatInt(cur, 10))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appendBody appends the body to the partial blob sum, which holds cur of its length bytes. More bytes than
// that in the body are refused and the partial blob removed: the client's declared length was false. A body cut
// short (a dropped connection) keeps what arrived, so that the upload resumes from there. When the body holds
// the whole blob, got is the sha256 of what was written, which spares reading it back.
func (h *handler) appendBody(body io.Reader, sum string, cur, length int64) (n int64, got string, e *Error) {
	p := h.st.partialPath(sum)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, "", internalError("open partial blob", err)
	}
	var w io.Writer = f
	hw := sha256.New()
	if cur == 0 {
		w = io.MultiWriter(f, hw)
	}
	n, rerr := io.Copy(w, io.LimitReader(body, length-cur))
	if cerr := f.Close(); cerr != nil {
		return n, "", internalError("write partial blob", cerr)
	}
	if rerr != nil {
		var pe *os.PathError
		if errors.As(rerr, &pe) {
			return n, "", internalError("write partial blob", rerr)
		}
		return n, "", badRequest("blob %s: body cut short after %d bytes: %v", sum, n, rerr)
	}
	var one [1]byte
	if k, _ := io.ReadFull(body, one[:]); k > 0 {
		_ = os.Remove(p)
		return n, "", badRequest("blob %s: the body runs past the declared %s; nothing was stored", sum, headerLength)
	}
	if cur == 0 && n == length {
		got = hex.EncodeToString(hw.Sum(nil))
	}
	return n, got, nil
}

// commit stores a manifest whose blobs are all present.
func (h *handler) commit(w http.ResponseWriter, r *http.Request) *Error {
	m, e := h.readManifest(w, r)
	if e != nil {
		return e
	}
	var missing []string
	seen := map[string]bool{}
	var total int64
	for _, en := range m.Entries {
		if en.Type != TypeFile {
			continue
		}
		size, ok, err := h.st.blobSize(en.SHA256)
		if err != nil {
			return internalError("stat blob", err)
		}
		if !ok {
			if !seen[en.SHA256] {
				missing = append(missing, en.SHA256)
				seen[en.SHA256] = true
			}
			continue
		}
		if size != en.Size {
			return &Error{Status: http.StatusBadRequest, Code: "bad_manifest",
				Message: fmt.Sprintf("entry %q declares %d bytes but blob %s holds %d", en.Path, en.Size, en.SHA256, size)}
		}
		total += size
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return &Error{Status: http.StatusConflict, Code: "missing_blobs",
			Message: fmt.Sprintf("the manifest names %d blobs the server does not hold", len(missing)),
			Hint:    "upload them (PATCH blobs/<sha256>) and commit again", Missing: missing}
	}
	if e := h.lim.check(len(m.Entries), total); e != nil {
		return e
	}
	data, id := m.canonical()
	if _, err := os.Stat(h.st.treePath(id)); err != nil {
		if err := atomicfile.Write(h.st.treePath(id), data, 0o644); err != nil {
			return internalError("store manifest", err)
		}
	} else {
		// The tree is committed again: Collect counts its age from now.
		now := time.Now()
		if err := os.Chtimes(h.st.treePath(id), now, now); err != nil {
			return internalError("mark manifest committed", err)
		}
	}
	writeJSON(w, http.StatusCreated, CommitResponse{Tree: id})
	return nil
}

// getTree returns a committed manifest.
func (h *handler) getTree(w http.ResponseWriter, id string) *Error {
	m, err := h.st.loadTree(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
		}
		return internalError("read manifest", err)
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
