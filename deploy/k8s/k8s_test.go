// Package k8s_test checks the Kubernetes manifests in deploy/k8s: both
// overlays render with kustomize, and every resource they render is valid,
// strictly (no field Kubernetes does not know), against the schemas of a
// pinned Kubernetes release vendored in schemas/, with kubeconform.
package k8s_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/yannh/kubeconform/pkg/validator"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/atrium-bff/atrium/services"
)

func TestTheManifestsRenderAndAreValid(t *testing.T) {
	v, err := validator.New([]string{"schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json"}, validator.Opts{Strict: true, KubernetesVersion: "1.34.4"})
	if err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for overlay, want := range map[string]map[string]int{
		"overlays/microservices": {"Deployment": 1 + len(services.Names), "Service": 1 + len(services.Names), "ConfigMap": 1},
		"overlays/monolith":      {"Deployment": 1, "Service": 1, "ConfigMap": 1},
	} {
		t.Run(overlay, func(t *testing.T) {
			rendered, err := k.Run(filesys.MakeFsOnDisk(), overlay)
			if err != nil {
				t.Fatalf("kustomize build %s: %v", overlay, err)
			}
			yaml, err := rendered.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range v.Validate(overlay, io.NopCloser(bytes.NewReader(yaml))) {
				if r.Status != validator.Valid {
					sig, _ := r.Resource.Signature()
					t.Errorf("%v: %v", sig, r.Err)
				}
			}
			kinds := map[string]int{}
			for _, res := range rendered.Resources() {
				kinds[res.GetKind()]++
				if res.GetKind() == "Secret" {
					t.Errorf("%s ships a Secret: credentials are the operator's to make", res.GetName())
				}
				if res.GetKind() != "Deployment" {
					continue
				}
				m, err := res.Map()
				if err != nil {
					t.Fatal(err)
				}
				spec, _ := dig(m, "spec", "template", "spec").(map[string]any)
				c := dig(spec, "containers").([]any)[0].(map[string]any)
				for _, f := range []string{"readinessProbe", "livenessProbe", "resources"} {
					if c[f] == nil {
						t.Errorf("%s has no %s", res.GetName(), f)
					}
				}
				if c["image"] != "ghcr.io/atrium-bff/atrium:latest" || dig(spec, "securityContext", "runAsNonRoot") != true || spec["terminationGracePeriodSeconds"] == nil {
					t.Errorf("%s: image %v, non-root %v, grace %v", res.GetName(), c["image"], dig(spec, "securityContext", "runAsNonRoot"), spec["terminationGracePeriodSeconds"])
				}
			}
			for kind, n := range want {
				if kinds[kind] != n {
					t.Errorf("%d of %s, want %d (all: %v)", kinds[kind], kind, n, kinds)
				}
			}
			if overlay == "overlays/microservices" && (kinds["HorizontalPodAutoscaler"] == 0 || kinds["PodDisruptionBudget"] == 0) {
				t.Errorf("no autoscaler or disruption budget: %v", kinds)
			}
		})
	}
}

// dig follows keys into nested maps.
func dig(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}
