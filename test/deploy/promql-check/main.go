// promql-check parses PromQL with Prometheus's own parser and Prometheus rule groups with Prometheus's
// own rule-file validation (the code `promtool check rules` runs), without building promtool itself.
//
// stdin:  {"exprs": ["rate(x[5m])", ...], "rules": "<a Prometheus rules file: groups: [...]>"}
// stdout: {"exprs": [{"expr": "...", "error": "...", "selectors": [{"metric": "x", "matchers": [...]}]}],
//          "ruleErrors": ["..."]}
//
// "selectors" lists every vector selector of the expression: its metric name (the name, or an equality
// matcher on __name__) and its label matchers, so the caller can check each metric and label exists.
package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

type input struct {
	Exprs []string `json:"exprs"`
	Rules string   `json:"rules"`
}

type matcher struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

type selector struct {
	Metric   string    `json:"metric"`
	Matchers []matcher `json:"matchers"`
}

type exprResult struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error,omitempty"`
	Selectors []selector `json:"selectors"`
}

type output struct {
	Exprs      []exprResult `json:"exprs"`
	RuleErrors []string     `json:"ruleErrors"`
}

func selectors(e parser.Expr) []selector {
	out := []selector{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		sel := selector{Metric: vs.Name, Matchers: []matcher{}}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName {
				if m.Type == labels.MatchEqual {
					sel.Metric = m.Value
				}
				continue
			}
			sel.Matchers = append(sel.Matchers, matcher{Label: m.Name, Op: m.Type.String(), Value: m.Value})
		}
		out = append(out, sel)
		return nil
	})
	return out
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "promql-check: bad input:", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := output{Exprs: []exprResult{}, RuleErrors: []string{}}
	for _, s := range in.Exprs {
		r := exprResult{Expr: s, Selectors: []selector{}}
		e, err := p.ParseExpr(s)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Selectors = selectors(e)
		}
		out.Exprs = append(out.Exprs, r)
	}
	if in.Rules != "" {
		_, errs := rulefmt.Parse([]byte(in.Rules), false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		for _, err := range errs {
			out.RuleErrors = append(out.RuleErrors, err.Error())
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
