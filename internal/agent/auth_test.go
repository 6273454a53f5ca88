package agent

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAuthorizationScheme: the scheme of the Authorization header is case-insensitive (RFC 7235 §2.1); the
// secret is not.
func TestAuthorizationScheme(t *testing.T) {
	t.Parallel()
	a := &agent{secret: []byte(testSecret)}
	h := a.authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"Bearer " + testSecret, http.StatusNoContent},
		{"bearer " + testSecret, http.StatusNoContent},
		{"BEARER " + testSecret, http.StatusNoContent},
		{"bEaReR  " + testSecret, http.StatusNoContent}, // 1*SP
		{"Bearer " + testSecret + "x", http.StatusUnauthorized},
		{"Bearer S3CRET-FOR-TESTS", http.StatusUnauthorized},
		{"Basic " + testSecret, http.StatusUnauthorized},
		{"Bearer" + testSecret, http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Authorization %q: HTTP %d, want %d", tc.header, w.Code, tc.want)
		}
	}
}
