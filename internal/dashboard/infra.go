package dashboard

import (
	"net/http"
	"slices"

	"github.com/stix-run/stix/api"
)

// infraRow is one infra as `stix check` finds it now, and whether the last recorded check enabled it.
type infraRow struct {
	api.InfraCheck
	// Recorded: the enabled set the last `stix check` recorded has it (what launches may use).
	Recorded bool
}

// infra is the infra page: every infra, enabled or why not (the same checks as `stix check`, which read files
// and variables only: loading the page calls no provider), the Kubernetes contexts and SSH node pools found.
func (h *Handler) infra(w http.ResponseWriter, r *http.Request) {
	res, err := h.opts.Backend.Infra(r.Context())
	if err != nil {
		h.backendError(w, r, err, Prefix+"/clusters", "the clusters")
		return
	}
	rows := make([]infraRow, 0, len(res.Results))
	var k8s, pools []string
	for _, c := range res.Results {
		rows = append(rows, infraRow{InfraCheck: c, Recorded: slices.Contains(res.Enabled, c.Infra)})
		switch c.Infra {
		case "kubernetes":
			k8s = c.Contexts
		case "ssh":
			pools = c.Contexts
		}
	}
	h.render(w, r, http.StatusOK, "infra", page{Title: "Infra", Nav: "infra", Data: map[string]any{
		"Rows": rows, "Enabled": res.Enabled, "Contexts": k8s, "Pools": pools, "CacheError": res.SaveError}})
}
