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

// gpuNode is one Kubernetes node's GPUs, for the table.
type gpuNode struct {
	api.NodeGPUs
	GPU string
}

// kubernetesGPUs is the Kubernetes contexts' GPU availability (`show-gpus --infra k8s`): it asks each allowed
// context's API server now, so it is a page of its own, linked from the infra page, never read on that page's
// load. Per GPU type: free of total; per node: context, node, GPU, free of total.
func (h *Handler) kubernetesGPUs(w http.ResponseWriter, r *http.Request) {
	rows, err := h.opts.Backend.KubernetesGPUs(r.Context())
	p := page{Title: "Kubernetes GPUs", Nav: "infra"}
	status := http.StatusOK
	if err != nil {
		status, p.Error = statusOf(err), api.WireError(err).Message
		if status == http.StatusNotFound || status == http.StatusInternalServerError {
			status = http.StatusOK // no GPU anywhere, or a context that did not answer: the page says so
		}
	}
	type gpuType struct {
		Name        string
		Quantities  string
		Free, Total int
		Contexts    []string
	}
	var types []gpuType
	var nodes []gpuNode
	for _, a := range rows {
		t := gpuType{Name: a.Name, Quantities: a.Quantities(), Contexts: a.Clouds}
		for _, n := range a.Nodes {
			t.Free, t.Total = t.Free+n.Free, t.Total+n.Total
			nodes = append(nodes, gpuNode{NodeGPUs: n, GPU: a.Name})
		}
		types = append(types, t)
	}
	p.Data = map[string]any{"Types": types, "Nodes": nodes}
	h.render(w, r, status, "k8s_gpus", p)
}
