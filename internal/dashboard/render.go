package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the templates, each parsed with the layout on first use (nothing is parsed when the binary starts).
var (
	parseOnce sync.Once
	pages     map[string]*template.Template
)

var pageNames = []string{"login", "error", "clusters", "cluster", "job", "managed_jobs", "managed_job", "services",
	"service", "confirm", "infra", "requests", "request", "costs", "tokens", "new_token", "config", "workspaces", "users", "k8s_gpus"}

func templates() map[string]*template.Template {
	parseOnce.Do(func() {
		pages = map[string]*template.Template{}
		for _, n := range pageNames {
			pages[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
				"templates/layout.html", "templates/"+n+".html"))
		}
	})
	return pages
}

var funcs = template.FuncMap{
	"ago":      ago,
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dollars":  func(v float64) string { return fmt.Sprintf("$%.2f", v) },
	"secs":     func(s api.Seconds) string { return duration(time.Duration(s)) },
	"autostop": autostopText,
	"stateClass": func(s any) string {
		return "state state-" + fmt.Sprint(s)
	},
	"terminal":      func(s api.JobStatus) bool { return s.IsTerminal() },
	"nodeResources": nodeResources,
}

// nodeResources is what a node's agent measured: "96 CPUs, 680 GB, A100:8".
func nodeResources(n api.ClusterNode) string {
	parts := []string{strconv.FormatFloat(n.CPUs, 'f', -1, 64) + " CPUs", strconv.FormatFloat(n.MemoryGB, 'f', -1, 64) + " GB"}
	for _, name := range slices.Sorted(maps.Keys(n.Accelerators)) {
		parts = append(parts, name+":"+strconv.FormatFloat(n.Accelerators[name], 'f', -1, 64))
	}
	return strings.Join(parts, ", ")
}

// page is what the layout renders around a page's own content.
type page struct {
	Title string
	// Nav is the section the page belongs to (clusters, jobs, services), marked current in the navigation.
	Nav  string
	User auth.Identity
	// CSRF is the token the page's forms send back.
	CSRF  string
	Flash string
	Error string
	Data  any
}

// render writes template name with p, as a whole: a template that fails leaves no half page behind.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.User, _ = auth.From(r.Context())
	p.CSRF = csrfToken(w, r)
	if c, err := r.Cookie(flashCookie); err == nil && p.Flash == "" {
		p.Flash, _ = url.QueryUnescape(c.Value)
		clearCookie(w, flashCookie)
	}
	var buf bytes.Buffer
	if err := templates()[name].Execute(&buf, p); err != nil {
		h.opts.Log.Error("dashboard template", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows msg with the status, and a link back to the clusters.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", page{Title: http.StatusText(status), Data: map[string]any{
		"Status": status, "Message": msg, "Back": Prefix + "/clusters", "BackName": "the clusters"}})
}

// notFound is the 404 page, with a link back to the list the missing thing would be in.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, msg, back, backName string) {
	h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Data: map[string]any{
		"Status": http.StatusNotFound, "Message": msg, "Back": back, "BackName": backName}})
}

// backendError shows a Backend error: the 404 page for what does not exist, else the API's message.
func (h *Handler) backendError(w http.ResponseWriter, r *http.Request, err error, back, backName string) {
	status := statusOf(err)
	if status == http.StatusNotFound {
		h.notFound(w, r, api.WireError(err).Message, back, backName)
		return
	}
	h.render(w, r, status, "error", page{Title: http.StatusText(status), Data: map[string]any{
		"Status": status, "Message": api.WireError(err).Message, "Back": back, "BackName": backName}})
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	sub, _ := fs.Sub(staticFS, "static")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func duration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	d = d.Round(time.Second)
	if d < time.Hour {
		return d.String()
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func autostopText(c api.Cluster) string {
	if c.AutostopMins < 0 {
		return "-"
	}
	s := fmt.Sprintf("%d min", c.AutostopMins)
	if c.ToDown {
		s += " (down)"
	}
	return s
}
