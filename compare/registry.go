package compare

import (
	"encoding/json"
	"fmt"
	"net/http"
)

type instance struct {
	ID      string            `json:"id"`
	Service string            `json:"service"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Meta    map[string]string `json:"meta"`
}

// instances lists the live catalog instances through the admin API.
func (r *runner) instances(base string) ([]instance, error) { return r.instancesOf(base, "catalog") }

// instancesOf lists the live instances of service through the admin API.
func (r *runner) instancesOf(base, service string) ([]instance, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/registry/instances?service="+service, nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registry: %s", resp.Status)
	}
	var out []instance
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func has(insts []instance, id string) bool {
	for _, i := range insts {
		if i.ID == id {
			return true
		}
	}
	return false
}
