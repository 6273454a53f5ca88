package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// do sends one raw request to the upload API and returns the status, the decoded error body (if any) and the
// response headers.
func do(t *testing.T, ts *testServer, method, path, body string, hdr map[string]string) (int, *Error, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 || method == http.MethodHead {
		return resp.StatusCode, nil, resp.Header
	}
	e := &Error{}
	if err := json.Unmarshal(b, e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("%s %s: %s: body %q is not an error object", method, path, resp.Status, b)
	}
	return resp.StatusCode, e, resp.Header
}

func patchHeaders(offset, length int) map[string]string {
	return map[string]string{headerOffset: fmt.Sprint(offset), headerLength: fmt.Sprint(length)}
}

func manifestJSON(entries ...string) string {
	return `{"version":1,"kind":"dir","entries":[` + strings.Join(entries, ",") + `]}`
}

func fileEntry(path, content string) string {
	return fmt.Sprintf(`{"path":%q,"type":"file","mode":420,"size":%d,"sha256":%q}`, path, len(content), sha(content))
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxTreeBytes: 100, MaxFiles: 3, MaxManifestBytes: 4096}
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		hdr          map[string]string
		status       int
		code, want   string
	}{
		{"hash mismatch", "PATCH", "/blobs/" + sha("hello"), "hellO", patchHeaders(0, 5),
			400, "hash_mismatch", "do not hash to its name; nothing was stored"},
		{"blob over the limit", "PATCH", "/blobs/" + sha("x"), "x", patchHeaders(0, 101),
			413, "too_large", "over the server's limit of 100 B"},
		{"body longer than declared", "PATCH", "/blobs/" + sha("hello"), "hello!", patchHeaders(0, 5),
			400, "bad_request", "runs past the declared Upload-Length"},
		{"blob without offset", "PATCH", "/blobs/" + sha("hello"), "hello", map[string]string{headerLength: "5"},
			400, "bad_request", "needs integer headers"},
		{"offset beyond what the server holds", "PATCH", "/blobs/" + sha("hello"), "llo", patchHeaders(2, 5),
			409, "offset_mismatch", "the server holds 0 bytes, not 2"},
		{"bad blob name", "PATCH", "/blobs/ABCDEF", "x", patchHeaders(0, 1),
			400, "bad_request", "is not a sha256"},
		{"malformed JSON", "POST", "/trees", `{"version":1,"kind":"dir","entries":[`, nil,
			400, "bad_json", "not valid JSON"},
		{"wrong JSON type", "POST", "/trees", `{"version":"1"}`, nil,
			400, "bad_json", `field "version"`},
		{"trailing data", "POST", "/missing", manifestJSON() + "{}", nil,
			400, "bad_json", "unexpected data after the JSON object"},
		{"empty body", "POST", "/trees", "", nil, 400, "bad_json", "body is empty"},
		{"dot-dot path", "POST", "/trees", manifestJSON(fileEntry("../x", "a")), nil,
			400, "bad_manifest", `path has a .. segment`},
		{"inner dot-dot path", "POST", "/missing", manifestJSON(fileEntry("a/../../x", "a")), nil,
			400, "bad_manifest", `path has a .. segment`},
		{"absolute path", "POST", "/trees", manifestJSON(fileEntry("/etc/cron.d/x", "a")), nil,
			400, "bad_manifest", "path is absolute"},
		{"empty segment", "POST", "/trees", manifestJSON(fileEntry("a//b", "a")), nil,
			400, "bad_manifest", "empty segment"},
		{"through a symlink", "POST", "/trees",
			manifestJSON(`{"path":"l","type":"symlink","target":"/etc"}`, fileEntry("l/passwd", "a")), nil,
			400, "bad_manifest", `lies below "l", which is a symlink`},
		{"duplicate path", "POST", "/trees", manifestJSON(fileEntry("a", "a"), fileEntry("a", "b")), nil,
			400, "bad_manifest", "appears twice"},
		{"bad hash", "POST", "/trees", manifestJSON(`{"path":"a","type":"file","sha256":"ABC"}`), nil,
			400, "bad_manifest", "not 64 lowercase hex digits"},
		{"unknown type", "POST", "/trees", manifestJSON(`{"path":"a","type":"fifo"}`), nil,
			400, "bad_manifest", `type "fifo"`},
		{"setuid mode", "POST", "/trees", manifestJSON(`{"path":"a","type":"dir","mode":2541}`), nil,
			400, "bad_manifest", "bits beyond 0777"},
		{"unknown version", "POST", "/trees", `{"version":2,"kind":"dir","entries":[]}`, nil,
			400, "bad_manifest", "version 2 is not supported"},
		{"file kind with two entries", "POST", "/trees",
			`{"version":1,"kind":"file","entries":[` + fileEntry("a", "a") + "," + fileEntry("b", "b") + `]}`, nil,
			400, "bad_manifest", "exactly one file entry"},
		{"too many files", "POST", "/missing",
			manifestJSON(fileEntry("a", ""), fileEntry("b", ""), fileEntry("c", ""), fileEntry("d", "")), nil,
			413, "too_large", "4 files and directories, over the server's limit of 3"},
		{"too many bytes declared", "POST", "/trees",
			manifestJSON(fileEntry("a", strings.Repeat("a", 60)), fileEntry("b", strings.Repeat("b", 60))), nil,
			413, "too_large", "120 B, over the server's limit of 100 B"},
		{"manifest body too large", "POST", "/trees", manifestJSON(strings.Repeat(fileEntry("a", "a")+",", 40) + fileEntry("a", "a")), nil,
			413, "too_large", "the manifest is over the server's limit of 4.0 KiB"},
		{"missing blobs", "POST", "/trees", manifestJSON(fileEntry("b", "bbb"), fileEntry("a", "aaa"), fileEntry("c", "aaa")), nil,
			409, "missing_blobs", "names 2 blobs the server does not hold"},
		{"unknown route", "GET", "/nope", "", nil, 404, "not_found", `no upload route GET`},
		{"wrong method", "DELETE", "/trees", "", nil, 405, "method_not_allowed", "use POST"},
		{"unknown tree", "GET", "/trees/" + sha("none"), "", nil, 404, "not_found", "push the workdir or file mount again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, lim)
			status, e, _ := do(t, ts, tc.method, tc.path, tc.body, tc.hdr)
			if status != tc.status || e == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("%s %s = %d %+v; want %d %s saying %q", tc.method, tc.path, status, e, tc.status, tc.code, tc.want)
			}
			if tc.code == "missing_blobs" {
				want := []string{sha("aaa"), sha("bbb")}
				if want[0] > want[1] {
					want[0], want[1] = want[1], want[0]
				}
				if fmt.Sprint(e.Missing) != fmt.Sprint(want) {
					t.Errorf("missing = %v, want %v (sorted, once each)", e.Missing, want)
				}
			}
			assertEmptyStore(t, ts.dir)
			// The server keeps serving.
			if status, _, _ := do(t, ts, "GET", "/limits", "", nil); status != http.StatusOK {
				t.Errorf("GET /limits after the refusal: %d", status)
			}
		})
	}
}

func TestCommitRefusesSizeThatDisagreesWithBlob(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	if status, e, _ := do(t, ts, "PATCH", "/blobs/"+sha("hello"), "hello", patchHeaders(0, 5)); status != 204 {
		t.Fatalf("PATCH: %d %v", status, e)
	}
	lying := manifestJSON(`{"path":"a","type":"file","size":1,"sha256":"` + sha("hello") + `"}`)
	status, e, _ := do(t, ts, "POST", "/trees", lying, nil)
	if status != 400 || !strings.Contains(e.Message, "declares 1 bytes but blob") {
		t.Fatalf("commit = %d %v", status, e)
	}
	if trees, _ := os.ReadDir(filepath.Join(ts.dir, "trees")); len(trees) != 0 {
		t.Errorf("%d trees stored after a refused commit", len(trees))
	}
}

func TestBlobProtocol(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	name := "/blobs/" + sha("hello world")
	// Nothing yet: HEAD says 404 at offset 0.
	if status, _, h := do(t, ts, "HEAD", name, "", nil); status != 404 || h.Get(headerOffset) != "0" {
		t.Fatalf("HEAD before = %d offset %q", status, h.Get(headerOffset))
	}
	// Part of it; HEAD and missing report the offset to resume from.
	if status, e, h := do(t, ts, "PATCH", name, "hello", patchHeaders(0, 11)); status != 204 || h.Get(headerOffset) != "5" || h.Get(headerComplete) != "" {
		t.Fatalf("first PATCH = %d %v %v", status, e, h)
	}
	if status, _, h := do(t, ts, "HEAD", name, "", nil); status != 404 || h.Get(headerOffset) != "5" {
		t.Fatalf("HEAD partial = %d offset %q", status, h.Get(headerOffset))
	}
	req, _ := http.NewRequest("POST", ts.base+"/missing", strings.NewReader(manifestJSON(fileEntry("a", "hello world"))))
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var miss MissingResponse
	json.NewDecoder(resp.Body).Decode(&miss)
	resp.Body.Close()
	if len(miss.Missing) != 1 || miss.Missing[0].Offset != 5 {
		t.Fatalf("missing = %+v, want the blob at offset 5", miss)
	}
	// The rest completes it.
	if status, e, h := do(t, ts, "PATCH", name, " world", patchHeaders(5, 11)); status != 204 || h.Get(headerComplete) != "1" {
		t.Fatalf("second PATCH = %d %v %v", status, e, h)
	}
	if status, _, h := do(t, ts, "HEAD", name, "", nil); status != 200 || h.Get(headerOffset) != "11" || h.Get(headerComplete) != "1" {
		t.Fatalf("HEAD after = %d %v", status, h)
	}
	// A late duplicate upload is answered as complete without storing anything again.
	if status, _, h := do(t, ts, "PATCH", name, "hello world", patchHeaders(0, 11)); status != 204 || h.Get(headerComplete) != "1" {
		t.Fatalf("duplicate PATCH = %d %v", status, h)
	}
	status, e, _ := do(t, ts, "POST", "/trees", manifestJSON(fileEntry("a", "hello world")), nil)
	if status != http.StatusCreated {
		t.Fatalf("commit = %d %v", status, e)
	}
}

func TestPartialLongerThanTheBlobStartsOver(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Limits{})
	name := "/blobs/" + sha("abc")
	// A client that declared a longer blob left 5 bytes.
	if status, e, _ := do(t, ts, "PATCH", name, "abcde", patchHeaders(0, 10)); status != 204 {
		t.Fatalf("PATCH = %d %v", status, e)
	}
	status, e, h := do(t, ts, "PATCH", name, "", patchHeaders(3, 3))
	if status != 409 || e.Code != "offset_mismatch" || h.Get(headerOffset) != "0" {
		t.Fatalf("PATCH past the end = %d %v offset %q; want 409 at offset 0", status, e, h.Get(headerOffset))
	}
	if status, e, h := do(t, ts, "PATCH", name, "abc", patchHeaders(0, 3)); status != 204 || h.Get(headerComplete) != "1" {
		t.Fatalf("PATCH from 0 = %d %v", status, e)
	}
	// Push resumes the same way when the server reports more than the file has.
	if status, e, _ := do(t, ts, "PATCH", "/blobs/"+sha("xy"), "xyz", patchHeaders(0, 9)); status != 204 {
		t.Fatalf("PATCH = %d %v", status, e)
	}
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"f": "xy"})
	root, err := Resolve(ts.dir, push(t, ts, src, fastRetries))
	if err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, root, nil)
}

func TestResolveUnknownTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, id := range []string{sha("nothing"), "../../etc", ""} {
		if _, err := Resolve(dir, id); err == nil || !strings.Contains(err.Error(), "upload tree not found") {
			t.Errorf("Resolve(%q) = %v, want not found", id, err)
		}
	}
}
