package kubectlroster

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// row is one printed item: its table cells (wide cells after the others) and the value
// -o json / -o yaml print.
type row struct {
	cells, wide []string
	item        any
}

// printer writes rows as they come. Every format streams: a table is aligned on the widths
// of its first batch (as `kubectl get --watch` does), JSON is one array written element by
// element, YAML one sequence written item by item.
type printer interface {
	header(cols, wideCols []string)
	add(r row) error
	// flush ends a batch: the rows so far are written.
	flush() error
	// close writes what is left and ends the output (a JSON array's closing bracket).
	close() error
}

func newPrinter(format string, w io.Writer) (printer, error) {
	switch format {
	case "", "table":
		return &table{w: w}, nil
	case "wide":
		return &table{w: w, wideOut: true}, nil
	case "json":
		return &jsonArray{w: w}, nil
	case "yaml":
		return &yamlSeq{w: w}, nil
	default:
		return nil, usagef("unknown output format %q: use json, yaml or wide", format)
	}
}

// table prints aligned columns with upper-case headers, like kubectl.
type table struct {
	w       io.Writer
	wideOut bool
	cols    []string
	widths  []int
	pending [][]string
	started bool
}

func (t *table) header(cols, wideCols []string) {
	t.cols = append([]string(nil), cols...)
	if t.wideOut {
		t.cols = append(t.cols, wideCols...)
	}
}

func (t *table) add(r row) error {
	cells := r.cells
	if t.wideOut {
		cells = append(append([]string(nil), r.cells...), r.wide...)
	}
	t.pending = append(t.pending, cells)
	return nil
}

func (t *table) flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	var b strings.Builder
	if !t.started {
		t.started = true
		t.widths = make([]int, len(t.cols))
		for i, c := range t.cols {
			t.widths[i] = len(c)
		}
		for _, cells := range t.pending {
			for i, c := range cells {
				if i < len(t.widths) && len(c) > t.widths[i] {
					t.widths[i] = len(c)
				}
			}
		}
		t.line(&b, t.cols)
	}
	for _, cells := range t.pending {
		t.line(&b, cells)
	}
	t.pending = t.pending[:0]
	_, err := io.WriteString(t.w, b.String())
	return err
}

// line writes cells padded to the column widths, three spaces apart as kubectl's; a cell
// wider than its column (a later batch) pushes the rest of its line right.
func (t *table) line(b *strings.Builder, cells []string) {
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(c)
		if pad := t.widths[i] - len(c); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString("   ")
	}
	b.WriteByte('\n')
}

func (t *table) close() error { return t.flush() }

// jsonArray writes one JSON array, an element at a time.
type jsonArray struct {
	w io.Writer
	n int
}

func (j *jsonArray) header(_, _ []string) {}

func (j *jsonArray) add(r row) error {
	b, err := json.MarshalIndent(r.item, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *jsonArray) flush() error { return nil }

func (j *jsonArray) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

// yamlSeq writes one YAML sequence, an item at a time.
type yamlSeq struct {
	w io.Writer
	n int
}

func (y *yamlSeq) header(_, _ []string) {}

func (y *yamlSeq) add(r row) error {
	b, err := yaml.Marshal([]any{r.item})
	if err != nil {
		return err
	}
	y.n++
	_, err = y.w.Write(b)
	return err
}

func (y *yamlSeq) flush() error { return nil }

func (y *yamlSeq) close() error {
	if y.n == 0 {
		_, err := io.WriteString(y.w, "[]\n")
		return err
	}
	return nil
}
