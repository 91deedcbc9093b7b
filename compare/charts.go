package compare

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var modeColors = map[string]color.Color{
	Monolith:      color.RGBA{R: 0xd9, G: 0x53, B: 0x4f, A: 0xff},
	Microservices: color.RGBA{R: 0x4a, G: 0x90, B: 0xd9, A: 0xff},
}

// charts draws the latency distributions of the steady runs, one chart per
// endpoint, and the availability over time of the isolation run, into dir.
func (rep *Report) charts(dir string) ([]string, error) {
	var files []string
	for _, ep := range Endpoints {
		p := plot.New()
		p.Title.Text = "Latency distribution: " + ep.Name
		p.X.Label.Text = "quantile (%)"
		p.Y.Label.Text = "latency (ms)"
		p.Legend.Top = true
		p.Legend.Left = true
		drawn := false
		for _, mode := range modes {
			r := find(rep.Steady, mode, ep.Name)
			if r == nil || len(r.Quantiles) == 0 {
				continue
			}
			pts := make(plotter.XYs, 0, len(r.Quantiles))
			for _, q := range r.Quantiles[:len(r.Quantiles)-1] { // the max distorts the scale; the table has it
				pts = append(pts, plotter.XY{X: q.Q, Y: q.MS})
			}
			if err := line(p, pts, mode); err != nil {
				return nil, err
			}
			drawn = true
		}
		if !drawn {
			continue
		}
		f := filepath.Join(dir, "latency-"+strings.ReplaceAll(ep.Name, " ", "-")+".svg")
		if err := p.Save(7*vg.Inch, 4*vg.Inch, f); err != nil {
			return nil, fmt.Errorf("chart %s: %w", f, err)
		}
		files = append(files, f)
	}
	if len(rep.Isolation) > 0 {
		p := plot.New()
		p.Title.Text = "Availability while reviews crashes (product page)"
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = "answered (%), partial included"
		p.Y.Min, p.Y.Max = 0, 105
		for _, r := range rep.Isolation {
			answered := make(plotter.XYs, 0, len(r.Timeline))
			whole := make(plotter.XYs, 0, len(r.Timeline))
			for _, b := range r.Timeline {
				if n := b.OK + b.Partial + b.Errors; n > 0 {
					answered = append(answered, plotter.XY{X: b.At, Y: 100 * float64(b.OK+b.Partial) / float64(n)})
					whole = append(whole, plotter.XY{X: b.At, Y: 100 * float64(b.OK) / float64(n)})
				}
			}
			if err := line(p, answered, r.Mode); err != nil {
				return nil, err
			}
			if r.Mode == Microservices { // where it answered partially
				l, err := plotter.NewLine(whole)
				if err != nil {
					return nil, err
				}
				l.Color, l.Width, l.Dashes = modeColors[r.Mode], vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(l)
				p.Legend.Add(r.Mode+", whole answers", l)
			}
		}
		f := filepath.Join(dir, "availability-crash.svg")
		if err := p.Save(7*vg.Inch, 4*vg.Inch, f); err != nil {
			return nil, fmt.Errorf("chart %s: %w", f, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func line(p *plot.Plot, pts plotter.XYs, mode string) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = modeColors[mode]
	l.Width = vg.Points(2)
	p.Add(l)
	p.Legend.Add(mode, l)
	return nil
}
